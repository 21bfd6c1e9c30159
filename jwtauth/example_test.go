package jwtauth_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/aigate/aigate/jwtauth"
	"github.com/aigate/aigate/jwtauth/devissuer"
	"github.com/aigate/aigate/record"
)

// A verifier trusting the local development issuer through its static JWKS:
// no network call, the way `aigate serve` trusts `aigate token`.
func ExampleNew() {
	dir, err := os.MkdirTemp("", "aigate-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	dev, err := devissuer.LoadOrCreate(dir, "http://127.0.0.1:8080/dev")
	if err != nil {
		log.Fatal(err)
	}
	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers:     []jwtauth.IssuerConfig{dev.Config()},
		Plans:       map[string]record.Limits{"free": {RPM: 10}, "pro": {RPM: 600, TokensPerDay: 2_000_000}},
		DefaultPlan: "free",
	})
	if err != nil {
		log.Fatal(err)
	}
	token, err := dev.Issue(devissuer.Claims{Subject: "alice", Tenant: "acme", Models: []string{"gpt-4o*"}, Plan: "pro"})
	if err != nil {
		log.Fatal(err)
	}
	p, err := v.VerifyToken(context.Background(), token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.ID, p.Kind, p.Tenant, p.Models, p.Limits.RPM)
	// Output: jwt:http://127.0.0.1:8080/dev#alice jwt acme [gpt-4o*] 600
}

// Trusting Amazon Cognito access tokens. Cognito access tokens carry the app
// client in "client_id" (no "aud") and "token_use": "access"; custom scopes
// are prefixed with the resource server identifier.
func ExampleIssuerConfig_cognito() {
	_ = jwtauth.IssuerConfig{
		Issuer:         "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123",
		Audiences:      []string{"1example23456789"}, // the app client id
		AudienceClaim:  "client_id",
		RequiredClaims: map[string]string{"token_use": "access"},
		Claims: jwtauth.ClaimMapping{
			PrincipalID:      "sub",
			Name:             "username",
			ModelScopePrefix: "aigate/models:", // scope "aigate/models:gpt-4o*"
			Groups:           "cognito:groups",
			GroupPlans:       []jwtauth.GroupPlan{{Group: "pro", Plan: "pro"}},
		},
	}
}

// Trusting Auth0 access tokens for an API. The issuer has a trailing slash;
// custom claims must be namespaced URLs.
func ExampleIssuerConfig_auth0() {
	_ = jwtauth.IssuerConfig{
		Issuer:    "https://example.eu.auth0.com/",
		Audiences: []string{"https://api.aigate.example"}, // the API identifier
		Claims: jwtauth.ClaimMapping{
			Tenant: "https://aigate.example/tenant",
			Models: "https://aigate.example/models",
			Plan:   "https://aigate.example/plan",
		},
	}
}

// Trusting an Okta custom authorization server. Scopes are in "scp", an
// array.
func ExampleIssuerConfig_okta() {
	_ = jwtauth.IssuerConfig{
		Issuer:    "https://example.okta.com/oauth2/default",
		Audiences: []string{"api://default"},
		Claims: jwtauth.ClaimMapping{
			PrincipalID: "uid", // "sub" is the login email at Okta; "uid" is stable
			ScopeClaim:  "scp",
			Groups:      "groups",
			GroupPlans:  []jwtauth.GroupPlan{{Group: "aigate-pro", Plan: "pro"}},
		},
	}
}

// Trusting a Keycloak realm. Access tokens have "aud": "account" unless an
// audience mapper adds the client; realm roles are nested.
func ExampleIssuerConfig_keycloak() {
	_ = jwtauth.IssuerConfig{
		Issuer:    "https://sso.example.com/realms/aigate",
		Audiences: []string{"aigate-api"},
		Claims: jwtauth.ClaimMapping{
			Name:       "preferred_username",
			Tenant:     "tenant",
			Models:     "models",
			Groups:     "realm_access.roles",
			GroupPlans: []jwtauth.GroupPlan{{Group: "aigate-team", Plan: "team"}, {Group: "aigate-pro", Plan: "pro"}},
		},
	}
}

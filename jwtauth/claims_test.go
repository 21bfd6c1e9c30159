package jwtauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/jwtauth"
	"github.com/aigate/aigate/jwtauth/jwttest"
	"github.com/aigate/aigate/record"
)

var testPlans = map[string]record.Limits{
	"free": {RPM: 10, TPM: 1000},
	"pro":  {RPM: 100, TPM: 100000, TokensPerDay: 1e6},
	"team": {RPM: 1000, TokensPerMonth: 1e9},
}

func TestClaimMapping(t *testing.T) {
	clk := newClock()
	key := jwttest.MustKey(t, "ES256", "k1")
	set, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{key.JWK()}})
	if err != nil {
		t.Fatal(err)
	}
	const iss = "https://idp.example"
	exp := clk.Now().Add(time.Hour).Truncate(time.Second)
	groupRules := []jwtauth.GroupPlan{{Group: "team-admins", Plan: "team"}, {Group: "pro-users", Plan: "pro"}}

	for _, tc := range []struct {
		name        string
		mapping     jwtauth.ClaimMapping
		issuer      func(*jwtauth.IssuerConfig) // further issuer settings
		defaultPlan string                      // "-": none
		claims      map[string]any              // added to the valid base claims; nil values delete
		want        *record.Principal           // ID, Name, Tenant, Models, Limits compared
		wantErr     bool
	}{
		{
			name:   "defaults: sub, name, default plan, no models",
			claims: map[string]any{"name": "Alice A."},
			want:   &record.Principal{ID: "alice", Name: "Alice A.", Models: nil, Limits: testPlans["free"]},
		},
		{
			name:    "models from a comma-separated string claim",
			mapping: jwtauth.ClaimMapping{Models: "models"},
			claims:  map[string]any{"models": "gpt-4o*, claude-3-*,,"},
			want:    &record.Principal{ID: "alice", Models: []string{"gpt-4o*", "claude-3-*"}, Limits: testPlans["free"]},
		},
		{
			name:    "models from an array claim",
			mapping: jwtauth.ClaimMapping{Models: "models"},
			claims:  map[string]any{"models": []string{"gpt-4o-mini", "o1-*"}},
			want:    &record.Principal{ID: "alice", Models: []string{"gpt-4o-mini", "o1-*"}, Limits: testPlans["free"]},
		},
		{
			name:   "models from scopes with the default prefix",
			claims: map[string]any{"scope": "openid models:gpt-4o* profile models:o1-mini models:"},
			want:   &record.Principal{ID: "alice", Models: []string{"gpt-4o*", "o1-mini"}, Limits: testPlans["free"]},
		},
		{
			name:    "models from an scp array (Okta)",
			mapping: jwtauth.ClaimMapping{ScopeClaim: "scp"},
			claims:  map[string]any{"scp": []string{"openid", "models:claude-*"}},
			want:    &record.Principal{ID: "alice", Models: []string{"claude-*"}, Limits: testPlans["free"]},
		},
		{
			name:    "models from Cognito resource-server scopes",
			mapping: jwtauth.ClaimMapping{ModelScopePrefix: "aigate/models:"},
			claims:  map[string]any{"scope": "aigate/models:gpt-4o aigate/chat models:ignored"},
			want:    &record.Principal{ID: "alice", Models: []string{"gpt-4o"}, Limits: testPlans["free"]},
		},
		{
			name:    "models claim and scopes together, deduplicated",
			mapping: jwtauth.ClaimMapping{Models: "models"},
			claims:  map[string]any{"models": "a,b", "scope": "models:b models:c"},
			want:    &record.Principal{ID: "alice", Models: []string{"a", "b", "c"}, Limits: testPlans["free"]},
		},
		{
			name:    "default models when the token grants none",
			mapping: jwtauth.ClaimMapping{Models: "models", DefaultModels: []string{"echo"}},
			want:    &record.Principal{ID: "alice", Models: []string{"echo"}, Limits: testPlans["free"]},
		},
		{
			name:    "models claim of the wrong type is refused",
			mapping: jwtauth.ClaimMapping{Models: "models"},
			claims:  map[string]any{"models": 42},
			wantErr: true,
		},
		{
			// A comma inside an array element used to become a second
			// model downstream: ["echo,gpt-x"] granted gpt-x.
			name:    "a model name holding a comma is refused",
			mapping: jwtauth.ClaimMapping{Models: "models"},
			claims:  map[string]any{"models": []string{"echo,gpt-x"}},
			wantErr: true,
		},
		{
			name:    "a model name holding a space is refused",
			mapping: jwtauth.ClaimMapping{Models: "models"},
			claims:  map[string]any{"models": []string{"echo gpt-x"}},
			wantErr: true,
		},
		{
			name:    "a model scope holding a comma is refused",
			claims:  map[string]any{"scope": "openid models:echo,gpt-x"},
			wantErr: true,
		},
		{
			name:    "a model name with a quote is refused",
			mapping: jwtauth.ClaimMapping{Models: "models"},
			claims:  map[string]any{"models": []string{`echo","gpt-x`}},
			wantErr: true,
		},
		{
			name:    "model names as Bedrock and Hugging Face spell them",
			mapping: jwtauth.ClaimMapping{Models: "models"},
			claims:  map[string]any{"models": []string{"anthropic.claude-3-5-haiku-20241022-v1:0", "meta-llama/Llama-3-8B", "ft:gpt-4o:org@x+1"}},
			want: &record.Principal{ID: "alice", Models: []string{"anthropic.claude-3-5-haiku-20241022-v1:0", "meta-llama/Llama-3-8B", "ft:gpt-4o:org@x+1"},
				Limits: testPlans["free"]},
		},
		{
			name:    "plan from a claim",
			mapping: jwtauth.ClaimMapping{Plan: "plan"},
			claims:  map[string]any{"plan": "pro"},
			want:    &record.Principal{ID: "alice", Limits: testPlans["pro"]},
		},
		{
			name:    "a plan claim naming no defined plan gets the default plan",
			mapping: jwtauth.ClaimMapping{Plan: "plan"},
			claims:  map[string]any{"plan": "platinum"},
			want:    &record.Principal{ID: "alice", Limits: testPlans["free"]},
		},
		{
			name:    "plan from Cognito groups",
			mapping: jwtauth.ClaimMapping{Groups: "cognito:groups", GroupPlans: groupRules},
			claims:  map[string]any{"cognito:groups": []string{"users", "pro-users"}},
			want:    &record.Principal{ID: "alice", Limits: testPlans["pro"]},
		},
		{
			name:    "the first matching group rule wins, whatever the token's order",
			mapping: jwtauth.ClaimMapping{Groups: "groups", GroupPlans: groupRules},
			claims:  map[string]any{"groups": []string{"pro-users", "team-admins"}},
			want:    &record.Principal{ID: "alice", Limits: testPlans["team"]},
		},
		{
			name:    "groups as a space-separated string",
			mapping: jwtauth.ClaimMapping{Groups: "groups", GroupPlans: groupRules},
			claims:  map[string]any{"groups": "users pro-users"},
			want:    &record.Principal{ID: "alice", Limits: testPlans["pro"]},
		},
		{
			name:    "groups nested in an object (Keycloak realm roles)",
			mapping: jwtauth.ClaimMapping{Groups: "realm_access.roles", GroupPlans: groupRules},
			claims:  map[string]any{"realm_access": map[string]any{"roles": []string{"team-admins"}}},
			want:    &record.Principal{ID: "alice", Limits: testPlans["team"]},
		},
		{
			name:    "the plan claim beats groups",
			mapping: jwtauth.ClaimMapping{Plan: "plan", Groups: "groups", GroupPlans: groupRules},
			claims:  map[string]any{"plan": "free", "groups": []string{"team-admins"}},
			want:    &record.Principal{ID: "alice", Limits: testPlans["free"]},
		},
		{
			name:    "no group matches: default plan",
			mapping: jwtauth.ClaimMapping{Groups: "groups", GroupPlans: groupRules},
			claims:  map[string]any{"groups": []string{"users"}},
			want:    &record.Principal{ID: "alice", Limits: testPlans["free"]},
		},
		{
			name:        "no plan and no default plan: zero limits",
			defaultPlan: "-",
			want:        &record.Principal{ID: "alice"},
		},
		{
			name:    "tenant from a custom claim",
			mapping: jwtauth.ClaimMapping{Tenant: "custom:tenant"},
			claims:  map[string]any{"custom:tenant": "acme"},
			want:    &record.Principal{ID: "alice", Tenant: "acme", Limits: testPlans["free"]},
		},
		{
			name:    "tenant claim of the wrong type is refused",
			mapping: jwtauth.ClaimMapping{Tenant: "tenant"},
			claims:  map[string]any{"tenant": []string{"a", "b"}},
			wantErr: true,
		},
		{
			name:    "namespaced claims with dots (Auth0)",
			mapping: jwtauth.ClaimMapping{Models: "https://aigate.example/models", Plan: "https://aigate.example/plan"},
			claims:  map[string]any{"https://aigate.example/models": []string{"gpt-4o"}, "https://aigate.example/plan": "pro"},
			want:    &record.Principal{ID: "alice", Models: []string{"gpt-4o"}, Limits: testPlans["pro"]},
		},
		{
			name:    "machine token: id from client_id, name from cognito:username",
			mapping: jwtauth.ClaimMapping{PrincipalID: "client_id", Name: "cognito:username"},
			claims:  map[string]any{"client_id": "svc-batch", "cognito:username": "batch"},
			want:    &record.Principal{ID: "svc-batch", Name: "batch", Limits: testPlans["free"]},
		},
		{
			name:    "principal id of the wrong type is refused",
			mapping: jwtauth.ClaimMapping{PrincipalID: "uid"},
			claims:  map[string]any{"uid": 1234},
			wantErr: true,
		},
		{
			name:    "empty principal id is refused",
			claims:  map[string]any{"sub": ""},
			wantErr: true,
		},
		{
			name: "Cognito access token: audience from client_id, token_use required",
			issuer: func(ic *jwtauth.IssuerConfig) {
				ic.Audiences = []string{"app-client-1"}
				ic.AudienceClaim = "client_id"
				ic.RequiredClaims = map[string]string{"token_use": "access"}
			},
			claims: map[string]any{"aud": nil, "client_id": "app-client-1", "token_use": "access"},
			want:   &record.Principal{ID: "alice", Limits: testPlans["free"]},
		},
		{
			name: "Cognito ID token where an access token is required",
			issuer: func(ic *jwtauth.IssuerConfig) {
				ic.Audiences = []string{"app-client-1"}
				ic.AudienceClaim = "client_id"
				ic.RequiredClaims = map[string]string{"token_use": "access"}
			},
			claims:  map[string]any{"aud": "app-client-1", "client_id": "app-client-1", "token_use": "id"},
			wantErr: true,
		},
		{
			name:   "one of several audiences",
			issuer: func(ic *jwtauth.IssuerConfig) { ic.Audiences = []string{"x", testAudience} },
			claims: map[string]any{"aud": []string{"account", testAudience}},
			want:   &record.Principal{ID: "alice", Limits: testPlans["free"]},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ic := jwtauth.IssuerConfig{Issuer: iss, StaticJWKS: string(set), Audiences: []string{testAudience}, Claims: tc.mapping}
			if tc.issuer != nil {
				tc.issuer(&ic)
			}
			cfg := jwtauth.Config{Issuers: []jwtauth.IssuerConfig{ic}, Plans: testPlans, DefaultPlan: "free", Now: clk.Now}
			if tc.defaultPlan == "-" {
				cfg.DefaultPlan = ""
			}
			v := newVerifier(t, cfg)
			c := claims(iss, clk)
			for k, val := range tc.claims {
				c = with(c, k, val)
			}
			p, err := v.VerifyToken(context.Background(), key.MustSign(t, c, nil))
			if tc.wantErr {
				if !errors.Is(err, authz.ErrInvalidCredential) || p != nil {
					t.Fatalf("VerifyToken = %+v, %v; want invalid credential", p, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := *tc.want
			// The principal is named by issuer and subject.
			want.ID = record.JWTPrincipalID(iss, want.ID)
			want.Kind = record.KindJWT
			want.ExpiresAt = exp
			if !p.ExpiresAt.Equal(exp) {
				t.Errorf("ExpiresAt = %v, want %v", p.ExpiresAt, exp)
			}
			p.ExpiresAt = exp
			if len(p.Models) == 0 {
				p.Models = nil
			}
			if !reflect.DeepEqual(*p, want) {
				t.Errorf("principal =\n%+v\nwant\n%+v", *p, want)
			}
		})
	}
}

package jwtauth_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/aigate/aigate/jwtauth"
	"github.com/aigate/aigate/record"
)

// TestConfigDecodesFromJSONAndYAML: the configuration embeds in aigate's
// config file (YAML) and the Lambda's environment (JSON) alike, with
// lowerCamelCase names and durations written as "30s".
func TestConfigDecodesFromJSONAndYAML(t *testing.T) {
	want := jwtauth.Config{
		Issuers: []jwtauth.IssuerConfig{{
			Issuer:         "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC",
			JWKSURL:        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC/.well-known/jwks.json",
			StaticJWKS:     `{"keys":[]}`,
			Audiences:      []string{"client-1"},
			AudienceClaim:  "client_id",
			RequiredClaims: map[string]string{"token_use": "access"},
			Algorithms:     []string{"RS256"},
			Claims: jwtauth.ClaimMapping{
				PrincipalID: "sub", Name: "username", Tenant: "custom:tenant", Models: "custom:models",
				ScopeClaim: "scope", ModelScopePrefix: "aigate/models:", DefaultModels: []string{"echo"},
				Plan: "custom:plan", Groups: "cognito:groups",
				GroupPlans: []jwtauth.GroupPlan{{Group: "pro", Plan: "pro"}},
			},
		}},
		Plans:           map[string]record.Limits{"pro": {RPM: 100, TPM: 10000}},
		DefaultPlan:     "pro",
		Leeway:          jwtauth.Duration(45 * time.Second),
		RefreshInterval: jwtauth.Duration(2 * time.Minute),
		MaxKeyAge:       jwtauth.Duration(time.Hour),
		FetchTimeout:    jwtauth.Duration(3 * time.Second),
		CacheSize:       5000,
	}
	const js = `{
	  "issuers": [{
	    "issuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC",
	    "jwksUrl": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC/.well-known/jwks.json",
	    "staticJwks": "{\"keys\":[]}",
	    "audiences": ["client-1"],
	    "audienceClaim": "client_id",
	    "requiredClaims": {"token_use": "access"},
	    "algorithms": ["RS256"],
	    "claims": {
	      "principalId": "sub", "name": "username", "tenant": "custom:tenant", "models": "custom:models",
	      "scopeClaim": "scope", "modelScopePrefix": "aigate/models:", "defaultModels": ["echo"],
	      "plan": "custom:plan", "groups": "cognito:groups",
	      "groupPlans": [{"group": "pro", "plan": "pro"}]
	    }
	  }],
	  "plans": {"pro": {"rpm": 100, "tpm": 10000}},
	  "defaultPlan": "pro",
	  "leeway": "45s", "refreshInterval": "2m", "maxKeyAge": "1h", "fetchTimeout": "3s",
	  "cacheSize": 5000
	}`
	const ym = `
issuers:
  - issuer: https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC
    jwksUrl: https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC/.well-known/jwks.json
    staticJwks: '{"keys":[]}'
    audiences: [client-1]
    audienceClaim: client_id
    requiredClaims: {token_use: access}
    algorithms: [RS256]
    claims:
      principalId: sub
      name: username
      tenant: "custom:tenant"
      models: "custom:models"
      scopeClaim: scope
      modelScopePrefix: "aigate/models:"
      defaultModels: [echo]
      plan: "custom:plan"
      groups: "cognito:groups"
      groupPlans:
        - {group: pro, plan: pro}
plans:
  pro: {rpm: 100, tpm: 10000}
defaultPlan: pro
leeway: 45s
refreshInterval: 2m
maxKeyAge: 1h
fetchTimeout: 3s
cacheSize: 5000
`
	var fromJSON, fromYAML jwtauth.Config
	if err := json.Unmarshal([]byte(js), &fromJSON); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal([]byte(ym), &fromYAML); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromJSON, want) {
		t.Errorf("from JSON:\n%+v\nwant\n%+v", fromJSON, want)
	}
	if !reflect.DeepEqual(fromYAML, want) {
		t.Errorf("from YAML:\n%+v\nwant\n%+v", fromYAML, want)
	}
	// And back: durations are written as strings.
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var round jwtauth.Config
	if err := json.Unmarshal(b, &round); err != nil || !reflect.DeepEqual(round, want) {
		t.Errorf("round trip: %s → %+v, %v", b, round, err)
	}
	if err := json.Unmarshal([]byte(`{"leeway":"soon"}`), &round); err == nil {
		t.Error("a malformed duration was accepted")
	}
}

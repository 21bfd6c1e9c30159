package aiapi

import (
	"testing"

	"github.com/aigate/aigate/authz"
)

// Every principal id the AI API keys state by carries its kind, whether the
// authorizer sent it so or (an authorizer from before principal ids had a
// kind, replayed from API Gateway's cache) sent the bare id.
func TestCallerPrincipalIDCarriesItsKind(t *testing.T) {
	for _, tc := range []struct {
		name, kind, id    string
		wantID, wantKeyID string
	}{
		{"key", "api_key", "key:7ltwygwjurzt", "key:7ltwygwjurzt", "7ltwygwjurzt"},
		{"legacy key", "api_key", "7ltwygwjurzt", "key:7ltwygwjurzt", "7ltwygwjurzt"},
		{"jwt", "jwt", "jwt:https://idp.example#7ltwygwjurzt", "jwt:https://idp.example#7ltwygwjurzt", ""},
		{"legacy jwt subject equal to a key id", "jwt", "7ltwygwjurzt", "jwt:#7ltwygwjurzt", ""},
		{"legacy jwt subject shaped like a key's principal id", "jwt", "key:7ltwygwjurzt", "jwt:#key:7ltwygwjurzt", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseCaller(map[string]string{authz.CtxPrincipalID: tc.id, authz.CtxKind: tc.kind, authz.CtxModels: `["*"]`})
			if err != nil {
				t.Fatal(err)
			}
			if c.principalID != tc.wantID || c.keyID != tc.wantKeyID {
				t.Errorf("principal %q, key %q; want %q, %q", c.principalID, c.keyID, tc.wantID, tc.wantKeyID)
			}
		})
	}
	if _, err := parseCaller(map[string]string{authz.CtxPrincipalID: "p", authz.CtxKind: "service"}); err == nil {
		t.Error("a context of an unknown kind was accepted")
	}
}

// TestModelsContextIsReadOneWayOnly: the models context is authz's JSON
// array, read strictly. A comma-separated list used to be split, so a
// claim ["echo,gpt-x"] granted gpt-x; every other form is now refused (a
// 500 for the request), never split or guessed at.
func TestModelsContextIsReadOneWayOnly(t *testing.T) {
	ctx := func(models string) map[string]string {
		return map[string]string{authz.CtxPrincipalID: "p", authz.CtxKind: "jwt", authz.CtxModels: models}
	}
	c, err := parseCaller(ctx(authz.EncodeModels([]string{"echo", "gpt-4o*"})))
	if err != nil || !c.mayUse("echo") || !c.mayUse("gpt-4o-mini") || c.mayUse("gpt-x") {
		t.Fatalf("parseCaller(EncodeModels) = %+v, %v", c, err)
	}
	for _, models := range []string{
		"echo,gpt-x",       // the old comma-separated form
		"echo",             // a bare name
		`["echo,gpt-x"]`,   // a separator inside a name
		`["echo gpt-x"]`,   // whitespace inside a name
		`["echo"],"gpt-x"`, // trailing data
		`null`,
		`[null]`,
		`["echo",7]`,
		"", // absent: the authorizer always sets it
	} {
		if c, err := parseCaller(ctx(models)); err == nil {
			t.Errorf("parseCaller(models=%q) = %+v, want an error", models, c.models)
		}
	}
}

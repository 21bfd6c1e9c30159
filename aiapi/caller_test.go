package aiapi

import (
	"testing"

	"github.com/aigate/aigate/authz"
)

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

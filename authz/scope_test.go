package authz_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/policy"
)

// TestDefaultScopeNamesOnlyTheAIAPIRoutes: the default scope grants each AI
// API route with its own verb and nothing else of the stage. IAM's '*'
// spans '/', so the old "*/v1/*" also granted /admin/v1/users.
func TestDefaultScopeNamesOnlyTheAIAPIRoutes(t *testing.T) {
	f := newFixture(t)
	d, err := f.authorizer(t, authz.Config{}).Decide(context.Background(), f.addKey(t, nil))
	if err != nil || d.Outcome != authz.Allow {
		t.Fatalf("Decide = %v, %v", d.Outcome, err)
	}
	allowed := func(route string) bool {
		return slices.ContainsFunc(d.Scope, func(p string) bool { return policy.Match(p, route) })
	}
	for _, route := range []string{
		"POST/v1/chat/completions",
		"POST/v1/embeddings",
		"GET/v1/models",
		"GET/v1/models/gpt-4o",
		"GET/v1/models/meta-llama/Llama-3-8B-Instruct", // model ids may hold '/'
		"POST/v1/responses",
		"GET/v1/responses/resp_123",
		"POST/v1/messages",
		"POST/v1/messages/count_tokens",
	} {
		if !allowed(route) {
			t.Errorf("default scope %q does not grant %s", d.Scope, route)
		}
	}
	for _, route := range []string{
		"GET/admin/v1/users",
		"POST/admin/v1/chat/completions",
		"DELETE/admin/v1/users/1",
		"GET/v1/chat/completions",
		"DELETE/v1/models/gpt-4o",
		"POST/v1/models",
		"POST/v1/files",
		"GET/v1/embeddings",
		"DELETE/v1/responses/resp_123",
		"POST/v1/messages/batches",
		"GET/",
	} {
		if allowed(route) {
			t.Errorf("default scope %q grants %s", d.Scope, route)
		}
	}
	for _, p := range d.Scope {
		if strings.HasPrefix(p, "*") {
			t.Errorf("pattern %q starts with a wildcard: it spans the verb and any path prefix", p)
		}
	}
}

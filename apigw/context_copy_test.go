package apigw_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"testing"

	"github.com/aigate/aigate/apigw"
	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/record"
)

// sameDecision answers every credential with one decision: a Decider that
// caches, as the authorizer does.
type sameDecision struct{ d authz.Decision }

func (s sameDecision) Decide(context.Context, string) (authz.Decision, error) { return s.d, nil }

// TestAResponsesContextIsItsOwn: the context of one answer is the caller's
// to change (the Lambda runtime encodes it, a wrapper may add to it);
// changing it must not change the decider's decision nor the next answer.
func TestAResponsesContextIsItsOwn(t *testing.T) {
	want := map[string]any{authz.CtxPrincipalID: "key:k1", authz.CtxTenant: "acme", authz.CtxRPM: int64(60)}
	decider := sameDecision{authz.Decision{
		Outcome:   authz.Allow,
		Principal: &record.Principal{ID: "key:k1", Kind: record.KindAPIKey},
		Scope:     []string{"*"},
		Context:   maps.Clone(want),
	}}
	for _, fx := range fixtures {
		for _, iam := range []bool{false, true} {
			h := &apigw.Handler{Decider: decider, IAMForHTTPAPI: iam, Logger: slog.New(slog.DiscardHandler)}
			contextOf := func() map[string]any {
				t.Helper()
				resp, err := h.Authorize(context.Background(), withRouteKeySource(t, eventWith(t, fx, "sk-anything")))
				if err != nil {
					t.Fatalf("%s (IAM %v): %v", fx, iam, err)
				}
				switch r := resp.(type) {
				case *apigw.IAMResponse:
					return r.Context
				case *apigw.SimpleResponse:
					return r.Context
				}
				t.Fatalf("%s: answer %T", fx, resp)
				return nil
			}
			first := contextOf()
			first[authz.CtxTenant] = "scribbled"
			first["extra"] = "scribbled"
			if got := contextOf(); !maps.Equal(got, want) {
				t.Errorf("%s (IAM %v): after the first answer's context was changed the next is %v, want %v", fx, iam, got, want)
			}
			if !maps.Equal(decider.d.Context, want) {
				t.Fatalf("%s (IAM %v): changing an answer's context changed the decision's: %v", fx, iam, decider.d.Context)
			}
		}
	}
}

// withRouteKeySource adds an HTTP API event's routeKey to its identity
// sources, as an authorizer configured for simple responses has it.
func withRouteKeySource(t *testing.T, event []byte) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(event, &ev); err != nil {
		t.Fatal(err)
	}
	if sources, ok := ev["identitySource"].([]any); ok {
		ev["identitySource"] = append(sources, ev["routeKey"])
	}
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

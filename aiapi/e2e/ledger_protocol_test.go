package e2e_test

import (
	"testing"

	"github.com/aigate/aigate/aiapi"
	"github.com/aigate/aigate/keys"
	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
)

// Every answered request's ledger row names the protocol it came in by, so
// that usage can be told apart by API.
func TestLedgerRecordsEachRequestsInboundProtocol(t *testing.T) {
	s := newStack(t, aiapi.DefaultConfig())
	id, key := s.key(t, keys.Spec{})
	for _, tc := range []struct{ path, body, want string }{
		{"/v1/chat/completions", `{"model":"echo","messages":[{"role":"user","content":"hi"}]}`, "chat"},
		{"/v1/chat/completions", `{"model":"echo","stream":true,"messages":[{"role":"user","content":"hi"}]}`, "chat"},
		{"/v1/embeddings", `{"model":"echo","input":"hi"}`, "embeddings"},
		{"/v1/responses", `{"model":"echo","input":"hi"}`, "responses"},
		{"/v1/messages", `{"model":"echo","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}`, "messages"},
		{"/v1/messages", `{"model":"echo","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"hi"}]}`, "messages"},
	} {
		before := len(s.ledger(t, quota.Query{PrincipalID: record.KeyPrincipalID(id)}))
		if status, body := post(t, s.URL, key, tc.path, tc.body); status != 200 {
			t.Fatalf("%s: %d %.300s", tc.path, status, body)
		}
		es := s.ledger(t, quota.Query{PrincipalID: record.KeyPrincipalID(id)})
		if len(es) != before+1 || es[len(es)-1].Protocol != tc.want {
			t.Errorf("%s %s: ledger rows %+v, want one more with protocol %q", tc.path, tc.body, es[before:], tc.want)
		}
	}
}

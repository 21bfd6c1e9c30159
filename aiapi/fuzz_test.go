package aiapi

import (
	"encoding/json"
	"testing"
)

// The request bodies are client input: parsing must never panic, and what it
// accepts must be consistent.

func FuzzParseChatRequest(f *testing.F) {
	f.Add([]byte(`{"model":"echo","messages":[{"role":"user","content":"hi"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := parseChatRequest(body)
		if err != nil {
			return
		}
		if r.model == "" || len(r.messages) == 0 || r.n < 1 || r.n > MaxChoices || r.maxTokens < 0 {
			t.Fatalf("accepted an invalid request: %+v", r)
		}
		for _, m := range r.messages {
			if m.Role == "" {
				t.Fatal("accepted a message without role")
			}
		}
		if r.bodyBytes != int64(len(body)) {
			t.Fatalf("bodyBytes %d, body %d", r.bodyBytes, len(body))
		}
	})
}

func FuzzParseEmbeddingsRequest(f *testing.F) {
	f.Add([]byte(`{"model":"echo","input":["a","b"]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := parseEmbeddingsRequest(body)
		if err != nil {
			return
		}
		if r.model == "" || (r.inputs != nil && len(r.inputs) == 0) {
			t.Fatalf("accepted an invalid request: %+v", r)
		}
	})
}

// The authorizer context comes from API Gateway, but a misconfigured
// authorizer or mapping may send anything: it must be refused, never read as
// "no limits".
func FuzzParseCaller(f *testing.F) {
	f.Add([]byte(`{"principalId":"k1","kind":"api_key","models":"[\"echo\",\"gpt-*\"]","rpm":"60","tpm":"1000","tokensPerDay":"0","tokensPerMonth":"","expiresAt":"0"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m map[string]string
		if json.Unmarshal(data, &m) != nil {
			return
		}
		c, err := parseCaller(m)
		if err != nil {
			return
		}
		l := c.limits
		if c.principalID == "" || l.RPM < 0 || l.TPM < 0 || l.TokensPerDay < 0 || l.TokensPerMonth < 0 {
			t.Fatalf("accepted %q as %+v", data, c)
		}
		for _, g := range c.models {
			if g == "" {
				t.Fatal("an empty model glob")
			}
		}
	})
}

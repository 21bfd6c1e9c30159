package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestJWTPrincipalIsTreatedLikeAKey: a token from `aigate token` is
// allowed, limited by its plan and metered in the ledger exactly like an
// API key, through a running `aigate serve`.
func TestJWTPrincipalIsTreatedLikeAKey(t *testing.T) {
	data := t.TempDir()
	createKey(t, data, "--name", "not the first key") // so serve prints no key
	cfg := filepath.Join(t.TempDir(), "aigate.yaml")
	os.WriteFile(cfg, []byte("jwt:\n  plans: {tiny: {rpm: 2}}\n  defaultPlan: tiny\n"), 0o600)
	p := startServe(t, data, "--config", cfg)
	addr := strings.TrimPrefix(p.base, "http://")
	tok := strings.TrimSpace(aigate(t, data, "token", "--sub", "alice", "--tenant", "acme", "--models", "echo", "--plan", "tiny", "--addr", addr))
	other := strings.TrimSpace(aigate(t, data, "token", "--sub", "bob", "--models", "echo", "--addr", "127.0.0.1:1")) // another issuer URL

	chat := func(token, model string) *http.Response {
		req, _ := http.NewRequest("POST", p.base+"/v1/chat/completions",
			strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hello from a jwt"}]}`))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := chat(tok, "echo"); r.StatusCode != 200 || r.Header.Get("X-Ratelimit-Limit-Requests") != "2" {
		t.Fatalf("first call: %d, limit header %q", r.StatusCode, r.Header.Get("X-Ratelimit-Limit-Requests"))
	}
	if r := chat(tok, "gpt-4o"); r.StatusCode != 404 {
		t.Fatalf("model outside the token's models: %d, want 404", r.StatusCode)
	}
	if r := chat(tok, "echo"); r.StatusCode != 200 {
		t.Fatalf("second call: %d", r.StatusCode)
	}
	if r := chat(tok, "echo"); r.StatusCode != 429 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("third call within the minute: %d, want 429 with Retry-After", r.StatusCode)
	}
	if r := chat(other, "echo"); r.StatusCode != 401 {
		t.Fatalf("a token from an untrusted issuer: %d, want 401", r.StatusCode)
	}
	if r := chat(tok[:len(tok)-5]+"AAAAA", "echo"); r.StatusCode != 401 {
		t.Fatalf("a tampered token: %d, want 401", r.StatusCode)
	}

	var usage []struct {
		Key      string `json:"key_id"`
		Tenant   string `json:"tenant"`
		Model    string `json:"model"`
		Requests int64  `json:"requests"`
	}
	out := aigate(t, data, "usage", "--since", "1h", "--json")
	if err := json.Unmarshal([]byte(out), &usage); err != nil {
		t.Fatalf("usage --json: %s (%v)", out, err)
	}
	found := false
	for _, u := range usage {
		if u.Key == "alice" && u.Tenant == "acme" && u.Model == "echo" && u.Requests == 2 {
			found = true
		}
	}
	if !found {
		t.Fatalf("alice's two requests are not in the ledger: %s", out)
	}
}

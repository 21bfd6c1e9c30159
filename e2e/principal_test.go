package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A JWT whose subject is an API key's id is another principal, through a
// running `aigate serve`: its requests count against neither the key's
// rate limit nor the key's usage.
func TestJWTWithAKeysIDAsSubjectSharesNothingWithTheKey(t *testing.T) {
	data := t.TempDir()
	id, key := createKey(t, data, "--name", "one a minute", "--models", "echo", "--rpm", "1")
	cfg := filepath.Join(t.TempDir(), "aigate.yaml")
	os.WriteFile(cfg, []byte("jwt:\n  plans: {free: {rpm: 5}}\n  defaultPlan: free\n"), 0o600)
	p := startServe(t, data, "--config", cfg)
	addr := strings.TrimPrefix(p.base, "http://")
	tok := strings.TrimSpace(aigate(t, data, "token", "--sub", id, "--models", "echo", "--addr", addr))

	chat := func(credential string) int {
		req, _ := http.NewRequest("POST", p.base+"/v1/chat/completions",
			strings.NewReader(`{"model":"echo","messages":[{"role":"user","content":"who am i"}]}`))
		req.Header.Set("Authorization", "Bearer "+credential)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// The JWT first: had it spent the key's minute window, the key's one
	// request a minute would be gone.
	if code := chat(tok); code != 200 {
		t.Fatalf("JWT with the key's id as subject: %d", code)
	}
	if code := chat(key); code != 200 {
		t.Fatalf("the key after the JWT: %d, want 200 (its own window)", code)
	}
	if code := chat(key); code != 429 {
		t.Fatalf("the key's second request in the minute: %d, want 429", code)
	}
	if code := chat(tok); code != 200 {
		t.Fatalf("the JWT after the key's limit: %d, want 200", code)
	}

	var rows []struct {
		KeyID       string `json:"key_id"`
		Kind        string `json:"kind"`
		PrincipalID string `json:"principal_id"`
		Requests    int64  `json:"requests"`
	}
	out := aigate(t, data, "usage", "--key", id, "--json")
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("usage --json: %s (%v)", out, err)
	}
	if len(rows) != 1 || rows[0].Requests != 1 || rows[0].Kind != "api_key" || rows[0].KeyID != id {
		t.Fatalf("usage of the key = %s, want its one request only", out)
	}
	out = aigate(t, data, "usage", "--json")
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("usage --json: %s (%v)", out, err)
	}
	found := false
	for _, r := range rows {
		found = found || r.Kind == "jwt" && r.KeyID == id && r.Requests == 2 && strings.HasPrefix(r.PrincipalID, "jwt:http://"+addr)
	}
	if !found {
		t.Fatalf("the JWT's two requests are not its own in the ledger: %s", out)
	}
}

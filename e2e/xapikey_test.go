package e2e

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeAcceptsXAPIKey: Anthropic's clients (Claude Code with
// ANTHROPIC_API_KEY, the Anthropic SDKs) send their key as x-api-key, with no
// Authorization header. The default API of `aigate serve` has no identity
// source (API Gateway would refuse a request missing one with 401 before
// invoking the authorizer) and no result cache, so the authorizer sees every
// request and takes the key from either header.
func TestServeAcceptsXAPIKey(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	id, key := createKey(t, data, "--name", "anthropic client", "--models", "echo")
	_, other := createKey(t, data, "--name", "bearer client", "--models", "echo")
	p := startServe(t, data)

	const chat = `{"model":"echo","messages":[{"role":"user","content":"say hi pelican"}]}`
	send := func(headers map[string]string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", p.base+"/v1/chat/completions", strings.NewReader(chat))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range headers {
			req.Header[k] = []string{v} // as spelt: the gateway sees header names as sent
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header.Get("x-amzn-ErrorType")
	}
	const unauthorized = `{"message":"Unauthorized"}`

	for _, tc := range []struct {
		name    string
		headers map[string]string
		status  int
	}{
		{"x-api-key alone", map[string]string{"x-api-key": key}, 200},
		{"X-Api-Key alone", map[string]string{"X-Api-Key": key}, 200},
		{"Authorization alone", map[string]string{"Authorization": "Bearer " + key}, 200},
		{"Authorization wins over a bad x-api-key", map[string]string{"Authorization": "Bearer " + other, "x-api-key": "aig_not_a_key"}, 200},
		{"a bad Authorization is not rescued by x-api-key", map[string]string{"Authorization": "Bearer aig_not_a_key", "x-api-key": key}, 401},
		{"malformed x-api-key", map[string]string{"x-api-key": key[:len(key)-1]}, 401},
		{"no credential", nil, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, errType := send(tc.headers)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			switch {
			case status == 200 && !strings.Contains(body, "pelican"):
				t.Errorf("body %s: not the echo model's answer", body)
			case status == 401 && (body != unauthorized || errType != "UnauthorizedException"):
				// API Gateway's own refusal, not the AI API's.
				t.Errorf("401 body %s, x-amzn-ErrorType %q; want %s, UnauthorizedException", body, errType, unauthorized)
			}
		})
	}

	// No result cache: the key that just worked is refused by the
	// authorizer as soon as it is revoked, with API Gateway's 401 (not the
	// AI API's invalid_api_key behind a cached Allow).
	aigate(t, data, "keys", "revoke", id)
	if status, body, errType := send(map[string]string{"x-api-key": key}); status != 401 || body != unauthorized || errType != "UnauthorizedException" {
		t.Fatalf("revoked key in x-api-key: %d %s %q, want 401 %s", status, body, errType, unauthorized)
	}
	if status, body, _ := send(map[string]string{"Authorization": "Bearer " + other}); status != 200 {
		t.Fatalf("another key after the revocation: %d %s", status, body)
	}
}

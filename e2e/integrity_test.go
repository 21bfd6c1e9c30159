package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// lastWinsUpstream is an OpenAI-compatible upstream that reads JSON as
// Python's json module does (the last of duplicate names wins, names are
// case-sensitive) and spends every token it is allowed: its usage is n ×
// max_tokens (or max_completion_tokens) as it read them, so that a body it
// reads differently from aigate shows up as overspend.
type lastWinsUpstream struct {
	mu     sync.Mutex
	bodies []map[string]any
}

func (u *lastWinsUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		http.Error(w, `{"error":{"message":"bad json"}}`, 400)
		return
	}
	u.mu.Lock()
	u.bodies = append(u.bodies, body)
	u.mu.Unlock()
	n, _ := body["n"].(float64)
	if n < 1 {
		n = 1
	}
	capTokens, _ := body["max_tokens"].(float64)
	if c, ok := body["max_completion_tokens"].(float64); ok && c > capTokens {
		capTokens = c
	}
	if capTokens < 1 {
		capTokens = 16 // a server default, as vLLM has
	}
	completion := int64(n * capTokens)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"id":"c","object":"chat.completion","created":1,"model":%q,"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"length"}],"usage":{"prompt_tokens":10,"completion_tokens":%d,"total_tokens":%d}}`,
		body["model"], completion, completion+10)
}

// TestCraftedBodiesCannotOverspendABudget replays the security review's
// bodies through the real `aigate serve` in front of an upstream that reads
// JSON the other common way: none may make the upstream spend more than
// aigate reserved, and the day's budget holds.
func TestCraftedBodiesCannotOverspendABudget(t *testing.T) {
	up := &lastWinsUpstream{}
	base := newLoopbackServer(t, up)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "aigate.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
aiapi:
  providers:
    py: {type: openai, baseUrl: %q}
  models:
    - {name: cheap, provider: py, upstreamModel: cheap-internal, maxOutputTokens: 2000}
    - {name: raw, provider: py}
    - {name: gpt-4, provider: py}
`, base+"/v1")), 0o600)
	data := t.TempDir()
	p := startServe(t, data, "--config", cfg)
	id, key := createKey(t, data, "--name", "budget", "--models", "cheap,raw", "--tokens-per-day", "10000")

	post := func(body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, p.base+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	msgs := `"messages":[{"role":"user","content":"hi"}]`
	for _, tc := range []struct {
		name, body string
		param      string
	}{
		{"a null duplicate hides a large max_tokens", `{"model":"cheap",` + msgs + `,"max_tokens":100000,"max_tokens":null}`, "max_tokens"},
		{"a case variant hides n", `{"model":"cheap",` + msgs + `,"n":8,"N":null}`, "N"},
		{"a duplicate model reaches the expensive one", `{"model":"cheap","model":"gpt-4",` + msgs + `}`, "model"},
		{"a duplicate stream_options drops the usage request", `{"model":"cheap",` + msgs + `,"stream":true,"stream_options":{"include_usage":true},"stream_options":{"include_usage":false}}`, "stream_options"},
		{"n × max_tokens overflows", `{"model":"raw",` + msgs + `,"n":4,"max_tokens":4611686018427387904}`, "max_tokens"},
		{"n × max_tokens wraps negative", `{"model":"raw",` + msgs + `,"n":2,"max_tokens":4611686018427387904}`, "max_tokens"},
	} {
		status, body := post(tc.body)
		var e struct {
			Error struct{ Type, Param string }
		}
		json.Unmarshal([]byte(body), &e)
		if status != http.StatusBadRequest || e.Error.Type != "invalid_request_error" || e.Error.Param != tc.param {
			t.Errorf("%s: %d %s, want 400 invalid_request_error naming %s", tc.name, status, body, tc.param)
		}
	}
	if len(up.bodies) != 0 {
		t.Fatalf("the upstream received %d crafted bodies: %v", len(up.bodies), up.bodies)
	}

	// Honest bodies: a cap over the ceiling is lowered in what is sent; the
	// budget admits what fits and refuses the rest.
	admitted := 0
	for i := 0; i < 8; i++ {
		status, body := post(`{"model":"cheap",` + msgs + `,"max_tokens":100000,"n":2}`)
		switch status {
		case http.StatusOK:
			admitted++
		case http.StatusTooManyRequests:
		default:
			t.Fatalf("honest request %d: %d %s", i, status, body)
		}
	}
	if admitted == 0 || admitted == 8 {
		t.Fatalf("%d of 8 admitted: the budget should admit some and refuse the rest", admitted)
	}
	for _, b := range up.bodies {
		if b["model"] != "cheap-internal" || b["max_tokens"] != float64(2000) || b["n"] != float64(2) {
			t.Errorf("upstream read %v, want cheap-internal, max_tokens 2000, n 2", b)
		}
	}
	var rows []struct {
		Requests         int64 `json:"requests"`
		PromptTokens     int64 `json:"prompt_tokens"`
		CompletionTokens int64 `json:"completion_tokens"`
	}
	out := aigate(t, data, "usage", "--key", id, "--json")
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("usage --json: %v: %s", err, out)
	}
	var spent, requests int64
	for _, r := range rows {
		spent += r.PromptTokens + r.CompletionTokens
		requests += r.Requests
	}
	if requests != int64(admitted) || spent > 10000 || spent != int64(admitted)*(10+2*2000) {
		t.Errorf("ledger: %d requests, %d tokens; want %d requests of 4,010 tokens within the 10,000 budget", requests, spent, admitted)
	}
}

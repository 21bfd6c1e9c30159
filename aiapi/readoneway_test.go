package aiapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/aigate/aigate/aiapi/provider"
	"github.com/aigate/aigate/aiapi/provider/openai"
)

// lastWins reads JSON as Python's json module and encoding/json into a map
// do: the last of duplicate names wins, names are case-sensitive.
func lastWins(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("a reader refuses %q: %v", body, err)
	}
	return m
}

// foldedReading reads the chat fields as a Go upstream would (encoding/json
// into a struct: names matched case-insensitively).
type foldedReading struct {
	Model               string          `json:"model"`
	MaxTokens           *int64          `json:"max_tokens"`
	MaxCompletionTokens *int64          `json:"max_completion_tokens"`
	N                   *int64          `json:"n"`
	Stream              *bool           `json:"stream"`
	StreamOptions       json.RawMessage `json:"stream_options"`
}

func intField(m map[string]any, name string) (int64, bool) {
	f, ok := m[name].(float64)
	return int64(f), ok
}

// capturing is an upstream answered in memory: it keeps the last body sent.
type capturing struct{ body []byte }

func (c *capturing) RoundTrip(r *http.Request) (*http.Response, error) {
	c.body, _ = io.ReadAll(r.Body)
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader([]byte(`{"choices":[{"message":{"content":"ok"}}],"usage":{"prompt_tokens":1,"completion_tokens":1}}`)))}, nil
}

// upstreamBody admits body as the chat endpoint does and returns what the
// openai provider sends upstream for it, with the cap admitted.
func upstreamBody(t *testing.T, body []byte, ceiling int64) (*chatRequest, []byte, int64, bool) {
	req, err := parseChatRequest(body)
	if err != nil {
		return nil, nil, 0, false
	}
	maxTokens := req.capOutput(DefaultMaxTokens, ceiling)
	if _, err := bound(req.bodyBytes, req.n, maxTokens); err != nil {
		return nil, nil, 0, false
	}
	up := &capturing{}
	c := &openai.Client{BaseURL: "http://upstream.invalid/v1", HTTPClient: &http.Client{Transport: up}}
	pr := &provider.ChatRequest{RequestID: "r", Model: "upstream-" + req.model, ResponseModel: req.model, Body: req.body,
		Messages: req.messages, MaxTokens: maxTokens, N: req.n, Stream: false}
	if _, err := c.Chat(t.Context(), pr); err != nil {
		t.Fatalf("provider: %v", err)
	}
	return req, up.body, maxTokens, true
}

// FuzzChatBodyIsReadOneWay feeds a body to aigate's reader and to the
// readers upstreams use; for every body aigate admits, they must agree on
// what is metered: model, output cap, n, stream and stream_options, both in
// the caller's body and in the body sent upstream.
func FuzzChatBodyIsReadOneWay(f *testing.F) {
	for _, seed := range []string{
		`{"model":"echo","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":100000,"max_tokens":null}`,
		`{"model":"m","messages":[{"role":"user","content":"hi"}],"n":8,"N":null}`,
		`{"model":"x","model":"gpt-4","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":false},"stream_options":{}}`,
		`{"model":"m","messages":[{"role":"user","content":"hi"}],"n":4,"max_tokens":4611686018427387904}`,
		`{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":500,"max_completion_tokens":null,"n":2}`,
		`{"model":"m","m\u006fdel":"y","messages":[{"role":"user","content":"hi"}]}`,
	} {
		f.Add([]byte(seed), int64(0))
		f.Add([]byte(seed), int64(100))
	}
	f.Fuzz(func(t *testing.T, body []byte, ceiling int64) {
		if ceiling < 0 {
			ceiling = -ceiling
		}
		req, sent, maxTokens, ok := upstreamBody(t, body, ceiling%1000000)
		if !ok {
			return
		}
		// The caller's body, read by a last-wins reader, says what aigate read.
		in := lastWins(t, body)
		if in["model"] != req.model {
			t.Fatalf("model: aigate %q, a last-wins reader %v", req.model, in["model"])
		}
		if n, ok := intField(in, "n"); ok && n != req.n || !ok && req.n != 1 {
			t.Fatalf("n: aigate %d, a last-wins reader %v", req.n, in["n"])
		}
		if s, _ := in["stream"].(bool); s != req.stream {
			t.Fatalf("stream: aigate %v, a last-wins reader %v", req.stream, in["stream"])
		}
		if req.stream {
			so, _ := in["stream_options"].(map[string]any)
			if iu, _ := so["include_usage"].(bool); iu != req.includeUsage {
				t.Fatalf("include_usage: aigate %v, a last-wins reader %v", req.includeUsage, so)
			}
		}
		// The body sent upstream says exactly what was admitted and
		// reserved, to a last-wins reader and to a case-insensitive one.
		out := lastWins(t, sent)
		var folded foldedReading
		if err := json.Unmarshal(sent, &folded); err != nil {
			t.Fatalf("a Go upstream refuses %s: %v", sent, err)
		}
		want := "upstream-" + req.model
		if out["model"] != want || folded.Model != want {
			t.Fatalf("model upstream: %v / %q, want %q (sent %s)", out["model"], folded.Model, want, sent)
		}
		capOf := func(a, b *int64) int64 {
			var c int64
			for _, v := range []*int64{a, b} {
				if v != nil {
					c = max(c, *v)
				}
			}
			return c
		}
		mt, okMT := intField(out, "max_tokens")
		mct, okMCT := intField(out, "max_completion_tokens")
		var pmt, pmct *int64
		if okMT {
			pmt = &mt
		}
		if okMCT {
			pmct = &mct
		}
		if got := capOf(pmt, pmct); got != maxTokens {
			t.Fatalf("cap upstream %d (last-wins), admitted %d (sent %s)", got, maxTokens, sent)
		}
		if got := capOf(folded.MaxTokens, folded.MaxCompletionTokens); got != maxTokens {
			t.Fatalf("cap upstream %d (case-insensitive), admitted %d (sent %s)", got, maxTokens, sent)
		}
		n, okN := intField(out, "n")
		if !okN {
			n = 1
		}
		fn := int64(1)
		if folded.N != nil {
			fn = *folded.N
		}
		if n != req.n || fn != req.n {
			t.Fatalf("n upstream %d / %d, admitted %d (sent %s)", n, fn, req.n, sent)
		}
		if s, _ := out["stream"].(bool); s != req.stream || (folded.Stream != nil && *folded.Stream) != req.stream {
			t.Fatalf("stream upstream %v, admitted %v (sent %s)", out["stream"], req.stream, sent)
		}
	})
}

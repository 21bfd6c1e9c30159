package e2e_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aigate/aigate/aiapi"
	"github.com/aigate/aigate/aiapi/provider/anthropic/anthropictest"
	"github.com/aigate/aigate/keys"
	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
)

// withAnthropic routes the model "claude" to an anthropic provider at up
// (pass-through for the Messages API), as upstream model
// claude-upstream-1.
func withAnthropic(t *testing.T, cfg aiapi.Config, up *anthropictest.Server) aiapi.Config {
	t.Setenv("TEST_ANTHROPIC_KEY", anthropictest.Key)
	cfg.Providers["claude"] = aiapi.ProviderConfig{Type: aiapi.ProviderAnthropic, BaseURL: up.URL, APIKeyEnv: "TEST_ANTHROPIC_KEY"}
	cfg.Models = append(cfg.Models, aiapi.ModelRoute{Name: "claude", Provider: "claude", UpstreamModel: "claude-upstream-1"})
	return cfg
}

// sseReader reads server-sent events off a response body.
type sseReader struct{ br *bufio.Reader }

// next returns the next event's type (its event: line, or the data's
// "type" member) and data; io.EOF after the last.
func (r sseReader) next() (typ, data string, err error) {
	for {
		line, err := r.br.ReadString('\n')
		if err != nil {
			if err == io.EOF && (typ != "" || data != "") {
				err = io.ErrUnexpectedEOF
			}
			return typ, data, err
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "" && data != "":
			if typ == "" {
				typ = gjson.Get(data, "type").Str
			}
			return typ, data, nil
		case strings.HasPrefix(line, "event:"):
			typ = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data += strings.TrimSpace(strings.TrimPrefix(line, "data:"))
		}
	}
}

// until reads events up to and including the first of type want, and
// returns the types read.
func (r sseReader) until(want string) ([]string, error) {
	var seen []string
	for {
		typ, _, err := r.next()
		if err != nil {
			return seen, fmt.Errorf("before %s (after %v): %w", want, seen, err)
		}
		seen = append(seen, typ)
		if typ == want {
			return seen, nil
		}
	}
}

// rest reads the events left and returns their types.
func (r sseReader) rest() ([]string, error) {
	var seen []string
	for {
		typ, _, err := r.next()
		if err == io.EOF {
			return seen, nil
		}
		if err != nil {
			return seen, err
		}
		seen = append(seen, typ)
	}
}

// Streamed answers are flushed event by event, in every protocol: the
// caller reads the first events while the upstream still holds back the
// rest, and the stream, once released, completes and is settled.
func TestStreamsAreFlushedEventByEvent(t *testing.T) {
	for _, tc := range []struct {
		name string
		// setup starts an upstream that holds its stream after the first
		// event(s) until release is closed, and returns the config routing
		// model to it.
		setup              func(t *testing.T, release chan struct{}) aiapi.Config
		path, body         string
		first, last        string
		prompt, completion int64
	}{
		{
			name: "messages through the anthropic provider",
			setup: func(t *testing.T, release chan struct{}) aiapi.Config {
				up := anthropictest.NewServer(t)
				up.InputTokens, up.CacheCreationTokens, up.CacheReadTokens, up.OutputTokens = 5, 7, 11, 3
				// message_start, ping, content_block_start, the first word.
				up.PauseAfter, up.Pause = 4, release
				return withAnthropic(t, aiapi.DefaultConfig(), up)
			},
			path:  "/v1/messages",
			body:  `{"model":"claude","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"Hi"}]}`,
			first: "content_block_delta", last: "message_stop",
			prompt: 5 + 7 + 11, completion: 3,
		},
		{
			name: "responses through an openai provider",
			setup: func(t *testing.T, release chan struct{}) aiapi.Config {
				u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "text/event-stream")
					rc := http.NewResponseController(w)
					fmt.Fprint(w, "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"model\":\"up-internal\",\"status\":\"in_progress\",\"output\":[]}}\n\n")
					rc.Flush()
					select {
					case <-release:
					case <-r.Context().Done():
						return
					}
					fmt.Fprint(w, "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":1,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hello\"}\n\n")
					fmt.Fprint(w, "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":2,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"model\":\"up-internal\",\"status\":\"completed\",\"output\":[{\"type\":\"message\",\"id\":\"msg_1\",\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hello\",\"annotations\":[]}]}],\"usage\":{\"input_tokens\":7,\"output_tokens\":1,\"total_tokens\":8}}}\n\n")
				})
				return withUpstream(t, u, 0)
			},
			path:  "/v1/responses",
			body:  `{"model":"up","stream":true,"input":"Hi"}`,
			first: "response.created", last: "response.completed",
			prompt: 7, completion: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			s := newStack(t, tc.setup(t, release))
			id, secret := s.key(t, keys.Spec{})
			// The deadline only turns a buffered stream into a failure
			// instead of a hang.
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Authorization", "Bearer "+secret)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Anthropic-Version", "2023-06-01")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
			r := sseReader{bufio.NewReader(resp.Body)}
			// The upstream is held until release is closed: what arrives
			// now was flushed as it came.
			if _, err := r.until(tc.first); err != nil {
				t.Fatalf("while the upstream holds the rest: %v", err)
			}
			if es := s.ledger(t, quota.Query{PrincipalID: record.KeyPrincipalID(id)}); len(es) != 0 {
				t.Errorf("settled before the stream ended: %+v", es)
			}
			close(release)
			rest, err := r.rest()
			if err != nil {
				t.Fatal(err)
			}
			if len(rest) == 0 || rest[len(rest)-1] != tc.last {
				t.Errorf("after the release: %v, want the stream to end with %s", rest, tc.last)
			}
			es := s.ledger(t, quota.Query{PrincipalID: record.KeyPrincipalID(id)})
			if len(es) != 1 || es[0].PromptTokens != tc.prompt || es[0].CompletionTokens != tc.completion {
				t.Errorf("ledger = %+v, want one row of %d + %d tokens", es, tc.prompt, tc.completion)
			}
			if n := s.pending(t); n != 0 {
				t.Errorf("%d reservations still pending", n)
			}
		})
	}
}

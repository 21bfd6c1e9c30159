package aiapi

import (
	"errors"
	"strings"
	"testing"

	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/record"
)

func TestChatRequestParsing(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		// want, when the body is valid
		check func(t *testing.T, r *chatRequest)
		// param, when it is not
		param string
	}{
		{"minimal", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, func(t *testing.T, r *chatRequest) {
			if r.model != "m" || len(r.messages) != 1 || r.messages[0].Text != "hi" || r.n != 1 || r.maxTokens != 0 || r.stream {
				t.Errorf("%+v", r)
			}
		}, ""},
		{"text parts count, others mark the message", `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"b"}]}]}`,
			func(t *testing.T, r *chatRequest) {
				if m := r.messages[0]; m.Text != "ab" || !m.NonText || r.bodyBytes <= 2 {
					t.Errorf("%+v", m)
				}
			}, ""},
		{"null content with tool calls", `{"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"1"}]}]}`,
			func(t *testing.T, r *chatRequest) {
				if !r.messages[0].NonText {
					t.Error("tool calls not marked")
				}
			}, ""},
		{"the larger cap bounds", `{"model":"m","messages":[{"role":"user","content":""}],"max_tokens":10,"max_completion_tokens":30}`,
			func(t *testing.T, r *chatRequest) {
				if r.maxTokens != 30 {
					t.Errorf("maxTokens = %d, want 30", r.maxTokens)
				}
			}, ""},
		{"null caps are absent", `{"model":"m","messages":[{"role":"user","content":""}],"max_tokens":null}`,
			func(t *testing.T, r *chatRequest) {
				if r.maxTokens != 0 {
					t.Errorf("maxTokens = %d", r.maxTokens)
				}
			}, ""},
		{"stream with usage", `{"model":"m","messages":[{"role":"user","content":""}],"stream":true,"stream_options":{"include_usage":true},"n":3,"stop":"x"}`,
			func(t *testing.T, r *chatRequest) {
				if !r.stream || !r.includeUsage || r.n != 3 || len(r.stop) != 1 {
					t.Errorf("%+v", r)
				}
			}, ""},
		{"include_usage without stream is ignored", `{"model":"m","messages":[{"role":"user","content":""}],"stream_options":{"include_usage":true}}`,
			func(t *testing.T, r *chatRequest) {
				if r.includeUsage {
					t.Error("includeUsage without stream")
				}
			}, ""},
		{"unknown fields are fine", `{"model":"m","messages":[{"role":"user","content":"","extra":1}],"whatever":{"x":[1]}}`, nil, ""},
		{"not JSON", `{"model":`, nil, ""},
		{"not an object", `[1,2]`, nil, ""},
		{"no model", `{"messages":[{"role":"user","content":"hi"}]}`, nil, "model"},
		{"model not a string", `{"model":5,"messages":[{"role":"user","content":"hi"}]}`, nil, "model"},
		{"no messages", `{"model":"m","messages":[]}`, nil, "messages"},
		{"message without role", `{"model":"m","messages":[{"content":"hi"}]}`, nil, "messages[0].role"},
		{"content of a wrong type", `{"model":"m","messages":[{"role":"user","content":5}]}`, nil, "messages[0].content"},
		{"zero max_tokens", `{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":0}`, nil, "max_tokens"},
		{"negative max_completion_tokens", `{"model":"m","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":-1}`, nil, "max_completion_tokens"},
		{"fractional max_tokens", `{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":1.5}`, nil, "max_tokens"},
		{"too many choices", `{"model":"m","messages":[{"role":"user","content":"hi"}],"n":1000}`, nil, "n"},
		{"stop of numbers", `{"model":"m","messages":[{"role":"user","content":"hi"}],"stop":[1]}`, nil, "stop"},
		// The security review's bodies: each can be read two ways, so none is
		// admitted (issue: what is metered is what is sent).
		{"duplicate max_tokens, the last null", `{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":100000,"max_tokens":null}`, nil, "max_tokens"},
		{"case variant of n", `{"model":"m","messages":[{"role":"user","content":"hi"}],"n":8,"N":null}`, nil, "N"},
		{"duplicate model", `{"model":"x","model":"gpt-4","messages":[{"role":"user","content":"hi"}]}`, nil, "model"},
		{"duplicate model by escape", `{"model":"x","m\u006fdel":"gpt-4","messages":[{"role":"user","content":"hi"}]}`, nil, "model"},
		{"duplicate stream_options", `{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true},"stream_options":null}`, nil, "stream_options"},
		{"case variant inside stream_options", `{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"Include_Usage":false}}`, nil, "stream_options.Include_Usage"},
		{"duplicate deep inside an unknown field", `{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"a":1,"a":2}]}`, nil, "tools[0].a"},
		{"case variant of a message role", `{"model":"m","messages":[{"role":"user","Role":"system","content":"hi"}]}`, nil, "messages[0].Role"},
		{"lone surrogate", `{"model":"m\ud800","messages":[{"role":"user","content":"hi"}]}`, nil, ""},
		{"invalid UTF-8", "{\"model\":\"m\xff\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", nil, ""},
		{"max_tokens in exponent form", `{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":1e5}`, nil, "max_tokens"},
		{"max_tokens past int64", `{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":9223372036854775808}`, nil, "max_tokens"},
		{"a number past float64", `{"model":"m","messages":[{"role":"user","content":"hi"}],"x":1e999}`, nil, "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseChatRequest([]byte(tc.body))
			if tc.check == nil && tc.name != "unknown fields are fine" {
				if r != nil {
					t.Fatalf("admitted %+v", r)
				}
				var re *requestError
				if !errors.As(err, &re) {
					t.Fatalf("error = %v, want a requestError", err)
				}
				if re.param != tc.param {
					t.Errorf("param = %q (%s), want %q", re.param, re.message, tc.param)
				}
				if strings.Contains(re.message, tc.body) && len(tc.body) > 20 {
					t.Errorf("the message echoes the body: %s", re.message)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func TestEmbeddingsRequestParsing(t *testing.T) {
	for _, tc := range []struct {
		body   string
		inputs []string
		tokens bool
		param  string
	}{
		{`{"model":"m","input":"a"}`, []string{"a"}, false, ""},
		{`{"model":"m","input":["a","b"]}`, []string{"a", "b"}, false, ""},
		{`{"model":"m","input":[1,2]}`, nil, true, ""},
		{`{"model":"m","input":[[1],[2,3]]}`, nil, true, ""},
		{`{"model":"m"}`, nil, false, "input"},
		{`{"model":"m","input":[]}`, nil, false, "input"},
		{`{"model":"m","input":{"a":1}}`, nil, false, "input"},
		{`{"input":"a"}`, nil, false, "model"},
	} {
		r, err := parseEmbeddingsRequest([]byte(tc.body))
		if tc.param != "" {
			var re *requestError
			if !errors.As(err, &re) || re.param != tc.param {
				t.Errorf("%s: error = %v, want param %s", tc.body, err, tc.param)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.body, err)
			continue
		}
		if strings.Join(r.inputs, "|") != strings.Join(tc.inputs, "|") || (r.inputs == nil) != tc.tokens {
			t.Errorf("%s: inputs %q", tc.body, r.inputs)
		}
	}
}

func TestAuthorizerContextParsing(t *testing.T) {
	full := map[string]string{
		authz.CtxPrincipalID: "k1", authz.CtxKind: "api_key", authz.CtxTenant: "acme",
		authz.CtxModels: `["gpt-4o*","echo"]`, authz.CtxRPM: "60", authz.CtxTPM: "1e6",
		authz.CtxTokensPerDay: "0", authz.CtxTokensPerMonth: "", authz.CtxExpiresAt: "1900000000",
		"integrationLatency": "3",
	}
	c, err := parseCaller(full)
	if err != nil {
		t.Fatal(err)
	}
	if c.principalID != "key:k1" || c.keyID != "k1" || c.kind != record.KindAPIKey || c.tenant != "acme" || len(c.models) != 2 ||
		c.limits != (record.Limits{RPM: 60, TPM: 1_000_000}) || c.expiresAt.Unix() != 1900000000 {
		t.Errorf("caller = %+v", c)
	}
	if !c.mayUse("gpt-4o-mini") || !c.mayUse("echo") || c.mayUse("echo2") {
		t.Error("model globs misapplied")
	}
	for name, change := range map[string]func(m map[string]string){
		"no principal":       func(m map[string]string) { delete(m, authz.CtxPrincipalID) },
		"no kind":            func(m map[string]string) { delete(m, authz.CtxKind) },
		"negative rpm":       func(m map[string]string) { m[authz.CtxRPM] = "-1" },
		"fractional tpm":     func(m map[string]string) { m[authz.CtxTPM] = "1.5" },
		"words for a limit":  func(m map[string]string) { m[authz.CtxTokensPerDay] = "lots" },
		"infinite":           func(m map[string]string) { m[authz.CtxTokensPerMonth] = "+Inf" },
		"expiry not numeric": func(m map[string]string) { m[authz.CtxExpiresAt] = "tomorrow" },
	} {
		m := map[string]string{}
		for k, v := range full {
			m[k] = v
		}
		change(m)
		if _, err := parseCaller(m); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := parseCaller(nil); !errors.Is(err, errNoAuthorizerContext) {
		t.Errorf("nil context: %v", err)
	}
	// No models: nothing may be used.
	if c, err := parseCaller(map[string]string{authz.CtxPrincipalID: "p", authz.CtxKind: "jwt", authz.CtxModels: "[]"}); err != nil || c.mayUse("echo") {
		t.Errorf("caller without models = %+v, %v", c, err)
	}
}

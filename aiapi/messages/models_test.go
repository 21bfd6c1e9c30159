package messages

import (
	"testing"
	"time"
)

func TestModelsList(t *testing.T) {
	cases := []struct {
		name   string
		models []ModelInfo
		want   string
	}{{
		name: "several, names and dates defaulted",
		models: []ModelInfo{
			{ID: "claude-sonnet-4-5", DisplayName: "Claude Sonnet 4.5", CreatedAt: time.Date(2025, 9, 29, 0, 0, 0, 0, time.FixedZone("PDT", -7*3600))},
			{ID: "echo"},
		},
		want: `{"data":[
			{"type":"model","id":"claude-sonnet-4-5","display_name":"Claude Sonnet 4.5","created_at":"2025-09-29T07:00:00Z"},
			{"type":"model","id":"echo","display_name":"echo","created_at":"1970-01-01T00:00:00Z"}],
			"has_more":false,"first_id":"claude-sonnet-4-5","last_id":"echo"}`,
	}, {
		name: "none",
		want: `{"data":[],"has_more":false,"first_id":null,"last_id":null}`,
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			jsonEqual(t, ModelsList(c.models), []byte(c.want))
		})
	}
}

func TestCountTokensEstimatesFromThePrompt(t *testing.T) {
	cases := []struct {
		name string
		body string
		want int64
	}{
		// messages: [{"role":"user","content":"hi"}] is 32 bytes.
		{"messages only", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, 8},
		{"rounded up", `{"model":"m","messages":[{"role":"user","content":"hi!"}]}`, 9},
		// "system":"abcd" adds 6 bytes, tools 2: 40 bytes.
		{"system and tools count", `{"model":"m","system":"abcd","tools":[],"messages":[{"role":"user","content":"hi"}]}`, 10},
		{"model, max_tokens and other members do not", `{"model":"a-very-long-model-name","max_tokens":100000,"metadata":{"user_id":"someone"},"messages":[{"role":"user","content":"hi"}]}`, 8},
		{"an empty text still counts its message", `{"model":"m","messages":[{"role":"user","content":""}]}`, 8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := ParseCountTokens([]byte(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if got := CountTokens(r); got != c.want {
				t.Fatalf("CountTokens = %d, want %d", got, c.want)
			}
		})
	}
	if got := string(CountTokensBody(42)); got != `{"input_tokens":42}` {
		t.Fatalf("CountTokensBody = %s", got)
	}
}

func TestFilterBetas(t *testing.T) {
	cases := []struct {
		header  string
		refused []string
		want    string
	}{
		{"a,b,c", nil, "a,b,c"},
		{"a, b ,c", []string{"b"}, "a,c"},
		{"interleaved-thinking-2025-05-14,context-management-2025-06-27,fine-grained-tool-streaming-2025-05-14",
			[]string{"context-management-*"}, "interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14"},
		{"Context-Management-2025-06-27,x", []string{"context-management-*"}, "x"},
		{"a,b", []string{"*"}, ""},
		{"", []string{"a"}, ""},
		{"a,,b,", nil, "a,b"},
		{"a[,b", []string{"a["}, "b"}, // a bad glob still matches itself
		{"c-1,c-2,d", []string{"c-?", "nothing"}, "d"},
	}
	for _, c := range cases {
		if got := FilterBetas(c.header, c.refused); got != c.want {
			t.Errorf("FilterBetas(%q, %q) = %q, want %q", c.header, c.refused, got, c.want)
		}
	}
}

package echo_test

import (
	"context"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aigate/aigate/aiapi/ijson"
	"github.com/aigate/aigate/aiapi/provider"
	"github.com/aigate/aigate/aiapi/provider/echo"
)

func chat(text string, maxTokens int64, body string) *provider.ChatRequest {
	if body == "" {
		body = "{}"
	}
	return &provider.ChatRequest{
		RequestID: "r1", Model: "echo", ResponseModel: "echo",
		Messages:  []provider.Message{{Role: "system", Text: "ignored"}, {Role: "user", Text: text}, {Role: "assistant", Text: "x"}},
		MaxTokens: maxTokens, N: 1, Body: ijson.MustParse(body),
	}
}

func TestEchoRules(t *testing.T) {
	m := &echo.Model{Now: func() time.Time { return time.Unix(1700000000, 0) }}
	for _, tc := range []struct {
		name       string
		text       string
		max        int64
		answer     string
		completion int64
		finish     string
	}{
		{"echoes the last user message", "hello  brave\tnew\nworld", 100, "hello brave new world", 4, "stop"},
		{"caps at max_tokens words", "one two three", 2, "one two", 2, "length"},
		{"empty", "", 10, "", 0, "stop"},
		{"unicode words", "héllo wörld", 10, "héllo wörld", 2, "stop"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := chat(tc.text, tc.max, "")
			resp, err := m.Chat(t.Context(), r)
			if err != nil {
				t.Fatal(err)
			}
			b := resp.Body
			if got := gjson.GetBytes(b, "choices.0.message.content").Str; got != tc.answer {
				t.Errorf("answer %q, want %q", got, tc.answer)
			}
			if f := gjson.GetBytes(b, "choices.0.finish_reason").Str; f != tc.finish {
				t.Errorf("finish_reason %q, want %q", f, tc.finish)
			}
			// prompt: every message's UTF-8 bytes / 4, rounded up
			prompt := (int64(len("ignored")+len(tc.text)+len("x")) + 3) / 4
			want := provider.Usage{PromptTokens: prompt, CompletionTokens: tc.completion}
			if *resp.Usage != want || gjson.GetBytes(b, "usage.total_tokens").Int() != prompt+tc.completion {
				t.Errorf("usage %+v (%s), want %+v", resp.Usage, gjson.GetBytes(b, "usage").Raw, want)
			}
			if gjson.GetBytes(b, "created").Int() != 1700000000 || gjson.GetBytes(b, "id").Str != "chatcmpl-r1" {
				t.Errorf("body %s", b)
			}
		})
	}
}

func TestEchoStreamsWordByWordWithRunningUsage(t *testing.T) {
	m := &echo.Model{}
	st, err := m.ChatStream(t.Context(), chat("a bb ccc", 100, ""))
	if err != nil {
		t.Fatal(err)
	}
	var (
		text       strings.Builder
		usages     []int64
		usageChunk int
	)
	for {
		ch, err := st.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		text.WriteString(gjson.GetBytes(ch.Data, "choices.0.delta.content").Str)
		if ch.Usage != nil {
			usages = append(usages, ch.Usage.CompletionTokens)
		}
		if ch.UsageOnly {
			usageChunk++
			if gjson.GetBytes(ch.Data, "choices.#").Int() != 0 {
				t.Errorf("usage chunk with choices: %s", ch.Data)
			}
		}
	}
	if text.String() != "a bb ccc" || usageChunk != 1 {
		t.Errorf("streamed %q with %d usage chunks", text.String(), usageChunk)
	}
	// role chunk, each word, the usage chunk
	if got := usages; len(got) != 5 || got[0] != 0 || got[1] != 1 || got[3] != 3 || got[4] != 3 {
		t.Errorf("running completion tokens %v, want [0 1 2 3 3]", got)
	}
}

func TestDelayMakesItSlowAndCancelStopsIt(t *testing.T) {
	m := &echo.Model{}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	st, err := m.ChatStream(ctx, chat("a b c d e f g h", 100, `{"delay_ms":1000}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Next(); err != nil { // the role chunk comes at once
		t.Fatal(err)
	}
	_, err = st.Next()
	var pe *provider.Error
	if !errors.As(err, &pe) || pe.Kind != provider.Timeout {
		t.Errorf("Next after the deadline = %v, want a Timeout", err)
	}
	for _, bad := range []string{`{"delay_ms":-1}`, `{"delay_ms":"1"}`, `{"delay_ms":60001}`} {
		if _, err := m.Chat(t.Context(), chat("x", 1, bad)); !errors.As(err, &pe) || pe.Kind != provider.BadRequest {
			t.Errorf("%s: %v, want a BadRequest", bad, err)
		}
	}
}

func TestEchoEmbeddingsAreUnitVectors(t *testing.T) {
	m := &echo.Model{}
	resp, err := m.Embeddings(t.Context(), &provider.EmbeddingsRequest{ResponseModel: "echo", Inputs: []string{"a", "a", "b"}, Body: ijson.MustParse("{}")})
	if err != nil {
		t.Fatal(err)
	}
	vecs := gjson.GetBytes(resp.Body, "data.#.embedding").Array()
	if len(vecs) != 3 || vecs[0].Raw != vecs[1].Raw || vecs[0].Raw == vecs[2].Raw {
		t.Fatalf("vectors %v: equal inputs must embed equally, others not", vecs)
	}
	var norm float64
	for _, x := range vecs[0].Array() {
		norm += x.Float() * x.Float()
	}
	if math.Abs(norm-1) > 1e-6 || len(vecs[0].Array()) != echo.Dimensions {
		t.Errorf("norm² = %v over %d numbers", norm, len(vecs[0].Array()))
	}
	if resp.Usage.PromptTokens != 1 {
		t.Errorf("usage %+v, want (3 bytes)/4 rounded up = 1", resp.Usage)
	}
	if _, err := m.Embeddings(t.Context(), &provider.EmbeddingsRequest{ResponseModel: "echo"}); err == nil {
		t.Error("token arrays accepted")
	}
}

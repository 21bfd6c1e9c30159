// Package echo is aigate's built-in test model: deterministic, offline and
// free, so that the README's tour, the tests and load tests run without an
// upstream. It is not a language model and must not be routed to for real
// work.
//
// The rules (stable; tests and docs rely on them):
//
//   - The answer is the last user message's text, word for word (words are
//     separated by white space and joined by single spaces); "" when there
//     is no user message. One choice, whatever n asks.
//   - At most max_tokens words are echoed (the cap the AI API enforces);
//     finish_reason is "length" when words were cut, "stop" otherwise.
//   - prompt_tokens = the UTF-8 bytes of every message's text, divided by 4,
//     rounded up. completion_tokens = the number of words echoed.
//   - Streamed, each word is one chunk (the first after a role chunk), then
//     a finish chunk, then the usage chunk. Every word chunk carries the
//     usage so far, so a stream cut short is settled by the same rules.
//   - "delay_ms": N in the request body (an extension field, 0..60000)
//     makes it slow: it waits N ms before each streamed word, or once
//     before a non-streamed answer.
//   - Embeddings are 8 numbers per input, derived from the input's SHA-256
//     and normalised to length 1 (in base64 when encoding_format is
//     "base64"); prompt_tokens = the inputs' UTF-8 bytes / 4, rounded up.
//     Token-array inputs are refused.
package echo

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"math"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aigate/aigate/aiapi/ijson"
	"github.com/aigate/aigate/aiapi/provider"
)

// MaxDelay bounds delay_ms.
const MaxDelay = time.Minute

// Model is the echo provider. The zero value is ready to use.
type Model struct {
	// Now is the clock for "created". Nil: time.Now.
	Now func() time.Time
}

var _ provider.Provider = (*Model)(nil)

func (m *Model) created() int64 {
	if m.Now != nil {
		return m.Now().Unix()
	}
	return time.Now().Unix()
}

// PromptTokens is the echo rule for a prompt of texts: their UTF-8 bytes
// divided by 4, rounded up.
func PromptTokens(texts ...string) int64 {
	var n int64
	for _, t := range texts {
		n += int64(len(t))
	}
	return (n + 3) / 4
}

// answer returns the words to echo, capped, and whether the cap cut them.
func answer(r *provider.ChatRequest) (words []string, cut bool) {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if r.Messages[i].Role == "user" {
			words = strings.Fields(r.Messages[i].Text)
			break
		}
	}
	if r.MaxTokens > 0 && int64(len(words)) > r.MaxTokens {
		return words[:r.MaxTokens], true
	}
	return words, false
}

func promptTokens(r *provider.ChatRequest) int64 {
	texts := make([]string, len(r.Messages))
	for i, m := range r.Messages {
		texts[i] = m.Text
	}
	return PromptTokens(texts...)
}

// delay reads delay_ms from the request body.
func delay(body *ijson.Object) (time.Duration, error) {
	raw, ok := body.Get("delay_ms")
	if !ok {
		return 0, nil
	}
	v := gjson.ParseBytes(raw)
	d := time.Duration(v.Float() * float64(time.Millisecond))
	if v.Type != gjson.Number || d < 0 || d > MaxDelay {
		return 0, provider.Errorf(provider.BadRequest, "delay_ms must be a number of milliseconds from 0 to %d", MaxDelay.Milliseconds())
	}
	return d, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func finishReason(cut bool) string {
	if cut {
		return "length"
	}
	return "stop"
}

// Chat answers at once, after delay_ms.
func (m *Model) Chat(ctx context.Context, r *provider.ChatRequest) (*provider.Response, error) {
	d, err := delay(r.Body)
	if err != nil {
		return nil, err
	}
	if err := sleep(ctx, d); err != nil {
		return nil, provider.Wrap(provider.Upstream, "echo interrupted", err)
	}
	words, cut := answer(r)
	text := strings.Join(words, " ")
	u := provider.Usage{PromptTokens: promptTokens(r), CompletionTokens: int64(len(words))}
	return &provider.Response{
		Body:        provider.CompletionBody("chatcmpl-"+r.RequestID, r.ResponseModel, m.created(), text, finishReason(cut), u),
		Usage:       &u,
		OutputBytes: int64(len(text)),
	}, nil
}

// ChatStream streams one word per chunk, delay_ms apart.
func (m *Model) ChatStream(ctx context.Context, r *provider.ChatRequest) (provider.Stream, error) {
	d, err := delay(r.Body)
	if err != nil {
		return nil, err
	}
	words, cut := answer(r)
	return &stream{
		ctx:    ctx,
		delay:  d,
		words:  words,
		cut:    cut,
		prompt: promptTokens(r),
		chunks: provider.Chunks{ID: "chatcmpl-" + r.RequestID, Model: r.ResponseModel, Created: m.created()},
	}, nil
}

// stream walks: role chunk, one chunk per word, finish chunk, usage chunk.
type stream struct {
	ctx    context.Context
	delay  time.Duration
	words  []string
	cut    bool
	prompt int64
	chunks provider.Chunks
	step   int // 0: role; 1..len(words): words; then finish, usage, EOF
	closed bool
}

func (s *stream) Next() (provider.Chunk, error) {
	if s.closed {
		return provider.Chunk{}, io.EOF
	}
	step := s.step
	s.step++
	n := len(s.words)
	switch {
	case step == 0:
		return provider.Chunk{Data: s.chunks.Role(), Usage: &provider.Usage{PromptTokens: s.prompt}}, nil
	case step <= n:
		if err := sleep(s.ctx, s.delay); err != nil {
			s.step--
			return provider.Chunk{}, provider.Wrap(provider.Upstream, "echo interrupted", err)
		}
		text := s.words[step-1]
		if step > 1 {
			text = " " + text
		}
		return provider.Chunk{
			Data:        s.chunks.Text(text),
			Usage:       &provider.Usage{PromptTokens: s.prompt, CompletionTokens: int64(step)},
			OutputBytes: int64(len(text)),
		}, nil
	case step == n+1:
		return provider.Chunk{Data: s.chunks.Finish(finishReason(s.cut))}, nil
	case step == n+2:
		u := provider.Usage{PromptTokens: s.prompt, CompletionTokens: int64(n)}
		return provider.Chunk{Data: s.chunks.Usage(u), Usage: &u, UsageOnly: true}, nil
	default:
		return provider.Chunk{}, io.EOF
	}
}

func (s *stream) Close() error {
	s.closed = true
	return nil
}

// Dimensions is the length of an echo embedding.
const Dimensions = 8

// Embed is the echo embedding of one input.
func Embed(input string) []float32 {
	sum := sha256.Sum256([]byte(input))
	v := make([]float32, Dimensions)
	var norm float64
	for i := range v {
		// Centre each 32-bit word on zero, so vectors point every way.
		x := float64(binary.BigEndian.Uint32(sum[i*4:]))/math.MaxUint32 - 0.5
		v[i] = float32(x)
		norm += x * x
	}
	norm = math.Sqrt(norm)
	for i := range v {
		v[i] = float32(float64(v[i]) / norm)
	}
	return v
}

// Embeddings embeds each input.
func (m *Model) Embeddings(ctx context.Context, r *provider.EmbeddingsRequest) (*provider.Response, error) {
	if r.Inputs == nil {
		return nil, provider.Errorf(provider.BadRequest, "the echo model embeds text only, not token arrays")
	}
	vectors := make([][]float32, len(r.Inputs))
	for i, in := range r.Inputs {
		vectors[i] = Embed(in)
	}
	u := provider.Usage{PromptTokens: PromptTokens(r.Inputs...)}
	format, _ := r.Body.Get("encoding_format")
	asBase64 := string(format) == `"base64"`
	return &provider.Response{Body: provider.EmbeddingsBody(r.ResponseModel, vectors, u.PromptTokens, asBase64), Usage: &u}, nil
}

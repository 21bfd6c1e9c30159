// Package provider is the contract between the AI API and the model backends
// behind it (aiapi/provider/openai, bedrock, echo): requests already checked
// and bounded by the AI API go in, OpenAI-shaped JSON and usage come out.
// A provider never enforces limits, never sees the caller's credential, and
// never lets the upstream's address or credentials into what it returns to
// the caller (its errors' Message); those belong in Err, for logs only.
package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/aigate/aigate/aiapi/ijson"
)

// Message is one chat message, reduced to what translating providers use:
// its role and its text (the text parts joined). OpenAI-compatible providers
// send ChatRequest.Body instead, untouched.
type Message struct {
	Role string
	Text string
	// NonText is set when the message had parts other than text (images,
	// audio) or tool calls, which a translating provider may refuse.
	NonText bool
}

// ChatRequest is a chat completion the AI API has admitted.
type ChatRequest struct {
	// RequestID identifies the request in ids and logs.
	RequestID string
	// Model is the upstream model id; ResponseModel the name the caller
	// used, which is the one reported back.
	Model, ResponseModel string
	// Body is the caller's JSON body as the AI API read it, once: fields it
	// does not know are there as received, the ones it read hold the values
	// it admitted (an output cap lowered to a ceiling, nulls removed). A
	// pass-through provider sends Body.Clone() with its own changes (the
	// upstream model, the cap when the caller set none, a usage request),
	// encoded by ijson; never the caller's raw bytes, which other readers
	// could read another way. Providers must not change Body itself.
	Body *ijson.Object
	// Messages is the parsed conversation.
	Messages []Message
	// MaxTokens is the output cap per choice that the reservation bounds: the
	// caller's max_completion_tokens or max_tokens, or the configured cap. A
	// provider must make the upstream honour it (send it when the caller did
	// not).
	MaxTokens int64
	// N is the number of choices asked for (at least 1).
	N           int64
	Stream      bool
	Temperature *float64
	TopP        *float64
	Stop        []string
}

// EmbeddingsRequest is an embeddings request the AI API has admitted.
type EmbeddingsRequest struct {
	RequestID            string
	Model, ResponseModel string
	// Body is as ChatRequest.Body.
	Body *ijson.Object
	// Inputs are the texts to embed; nil when the caller sent token arrays,
	// which only pass-through providers can serve.
	Inputs []string
}

// Usage is what an upstream reports it used.
type Usage struct {
	// PromptTokens is every input token, cache reads and writes included
	// (Anthropic reports those apart from input_tokens; they are added
	// here, and also kept below so that they can be priced apart).
	PromptTokens     int64
	CompletionTokens int64
	// CacheReadTokens and CacheWriteTokens are the parts of PromptTokens
	// read from or written to a prompt cache.
	CacheReadTokens, CacheWriteTokens int64
}

// Response is a complete (non-streamed) answer.
type Response struct {
	// Body is the OpenAI-shaped JSON answer, naming ResponseModel.
	Body []byte
	// Usage is the upstream's count; nil when it reported none, and the AI
	// API estimates from OutputBytes.
	Usage *Usage
	// OutputBytes is the size of everything generated: text, tool calls
	// and their arguments, reasoning, refusals, audio. An estimate from it
	// may count high, never zero when output was produced.
	OutputBytes int64
}

// Chunk is one event of a streamed chat completion.
type Chunk struct {
	// Data is one chat.completion.chunk object, JSON, naming ResponseModel.
	Data []byte
	// Usage, when not nil, is the usage so far; the last one seen is what is
	// settled.
	Usage *Usage
	// UsageOnly marks the chunk that only reports usage (empty choices): it
	// is sent only to callers that asked for stream_options.include_usage.
	UsageOnly bool
	// OutputBytes is the size of everything generated in this chunk (as
	// Response.OutputBytes), from which a stream cut short before any usage
	// report is estimated.
	OutputBytes int64
}

// Stream is a streamed chat completion. Next and Close are called from one
// goroutine.
type Stream interface {
	// Next returns the next chunk, io.EOF after the last one, or an error
	// (an *Error, or the context's error).
	Next() (Chunk, error)
	// Close releases the upstream connection; it may be called at any time,
	// and more than once.
	Close() error
}

// Provider is a model backend. Safe for concurrent use.
type Provider interface {
	Chat(ctx context.Context, r *ChatRequest) (*Response, error)
	// ChatStream starts a streamed completion. An error means nothing was
	// produced.
	ChatStream(ctx context.Context, r *ChatRequest) (Stream, error)
	Embeddings(ctx context.Context, r *EmbeddingsRequest) (*Response, error)
}

// Kind classifies an upstream failure for the caller.
type Kind int

const (
	// Upstream: the upstream failed or answered something unusable (502).
	Upstream Kind = iota
	// Timeout: the upstream did not answer in time (504).
	Timeout
	// BadRequest: the upstream, or the provider, refused the request as
	// invalid; the caller can fix it (400).
	BadRequest
)

// Error is an upstream failure. Message is shown to the caller and must hold
// neither the upstream's address nor its credentials; Err is the cause, for
// logs.
type Error struct {
	Kind    Kind
	Message string
	// Status is the upstream's HTTP status when it answered with an error
	// (0 otherwise), and UpstreamType the error type it named, when it
	// named one of its protocol's documented types (Anthropic's
	// "overloaded_error", "rate_limit_error"…): with them a handler can
	// answer a caller of the upstream's own protocol with the same status
	// and type. Neither holds anything secret.
	Status       int
	UpstreamType string
	Err          error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("provider: %s: %v", e.Message, e.Err)
	}
	return "provider: " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of kind k whose Message is formatted; wrap the
// cause with Wrap.
func Errorf(k Kind, format string, a ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, a...)}
}

// Wrap returns an *Error of kind k with message msg and cause err. A context
// deadline in err makes it a Timeout whatever k is.
func Wrap(k Kind, msg string, err error) *Error {
	if errors.Is(err, context.DeadlineExceeded) {
		k, msg = Timeout, "the upstream did not answer in time"
	}
	return &Error{Kind: k, Message: msg, Err: err}
}

package provider

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
)

// The OpenAI wire shapes that translating providers (bedrock, echo) build.
// OpenAI-compatible upstreams produce them themselves.

type completion struct {
	ID      string             `json:"id"`
	Object  string             `json:"object"`
	Created int64              `json:"created"`
	Model   string             `json:"model"`
	Choices []completionChoice `json:"choices"`
	Usage   *usageJSON         `json:"usage,omitempty"`
}

type completionChoice struct {
	Index        int          `json:"index"`
	Message      *messageJSON `json:"message,omitempty"`
	Delta        *messageJSON `json:"delta,omitempty"`
	FinishReason *string      `json:"finish_reason"`
	Logprobs     *struct{}    `json:"logprobs"`
}

type messageJSON struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
	Refusal *string `json:"refusal,omitempty"`
}

type usageJSON struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	TotalTokens      int64 `json:"total_tokens"`
}

func toUsageJSON(u Usage) *usageJSON {
	return &usageJSON{u.PromptTokens, u.CompletionTokens, u.PromptTokens + u.CompletionTokens}
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("provider: marshal: " + err.Error()) // only fixed shapes of strings and numbers
	}
	return b
}

// CompletionBody is a chat.completion with one assistant choice.
func CompletionBody(id, model string, created int64, text, finishReason string, u Usage) []byte {
	return mustMarshal(completion{
		ID: id, Object: "chat.completion", Created: created, Model: model,
		Choices: []completionChoice{{Message: &messageJSON{Role: "assistant", Content: &text}, FinishReason: &finishReason}},
		Usage:   toUsageJSON(u),
	})
}

// Chunks builds the chat.completion.chunk events of one streamed answer.
type Chunks struct {
	ID      string
	Model   string
	Created int64
}

func (c Chunks) chunk(ch []completionChoice, u *usageJSON) []byte {
	return mustMarshal(completion{ID: c.ID, Object: "chat.completion.chunk", Created: c.Created, Model: c.Model, Choices: ch, Usage: u})
}

// Role is the first chunk: the assistant's role and empty content.
func (c Chunks) Role() []byte {
	empty := ""
	return c.chunk([]completionChoice{{Delta: &messageJSON{Role: "assistant", Content: &empty}}}, nil)
}

// Text is a chunk of generated text.
func (c Chunks) Text(text string) []byte {
	return c.chunk([]completionChoice{{Delta: &messageJSON{Content: &text}}}, nil)
}

// Finish is the chunk that ends the choice.
func (c Chunks) Finish(reason string) []byte {
	return c.chunk([]completionChoice{{Delta: &messageJSON{}, FinishReason: &reason}}, nil)
}

// Usage is the last chunk when usage is reported: no choices.
func (c Chunks) Usage(u Usage) []byte {
	return c.chunk([]completionChoice{}, toUsageJSON(u))
}

// EmbeddingsBody is an embeddings list answer. With asBase64 each vector is
// sent as OpenAI's encoding_format "base64" does: its float32 values, little
// endian, in standard base64.
func EmbeddingsBody(model string, vectors [][]float32, promptTokens int64, asBase64 bool) []byte {
	type item struct {
		Object    string `json:"object"`
		Index     int    `json:"index"`
		Embedding any    `json:"embedding"`
	}
	type usage struct {
		PromptTokens int64 `json:"prompt_tokens"`
		TotalTokens  int64 `json:"total_tokens"`
	}
	items := make([]item, len(vectors))
	for i, v := range vectors {
		items[i] = item{Object: "embedding", Index: i, Embedding: v}
		if asBase64 {
			raw := make([]byte, 0, 4*len(v))
			for _, f := range v {
				raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(f))
			}
			items[i].Embedding = base64.StdEncoding.EncodeToString(raw)
		}
	}
	return mustMarshal(struct {
		Object string `json:"object"`
		Data   []item `json:"data"`
		Model  string `json:"model"`
		Usage  usage  `json:"usage"`
	}{Object: "list", Data: items, Model: model, Usage: usage{promptTokens, promptTokens}})
}

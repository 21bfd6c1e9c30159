package messages

import (
	"path"
	"strings"
	"time"
)

// ModelInfo is one model in an Anthropic models list.
type ModelInfo struct {
	ID string
	// DisplayName is shown to people; the ID when empty.
	DisplayName string
	// CreatedAt is when the model was released; the Unix epoch when zero
	// (aigate's OpenAI list says created 0 alike).
	CreatedAt time.Time
}

// ModelsList is GET /v1/models in Anthropic's shape (asked for with an
// anthropic-version header): one page with every model given, in order.
func ModelsList(models []ModelInfo) []byte {
	type model struct {
		Type        string `json:"type"`
		ID          string `json:"id"`
		DisplayName string `json:"display_name"`
		CreatedAt   string `json:"created_at"`
	}
	list := struct {
		Data    []model `json:"data"`
		HasMore bool    `json:"has_more"`
		FirstID *string `json:"first_id"`
		LastID  *string `json:"last_id"`
	}{Data: make([]model, 0, len(models))}
	for _, m := range models {
		name, at := m.DisplayName, m.CreatedAt
		if name == "" {
			name = m.ID
		}
		if at.IsZero() {
			at = time.Unix(0, 0)
		}
		list.Data = append(list.Data, model{"model", m.ID, name, at.UTC().Format(time.RFC3339)})
	}
	if n := len(models); n > 0 {
		list.FirstID, list.LastID = &models[0].ID, &models[n-1].ID
	}
	return marshal(list)
}

// CountTokens estimates the input tokens of r for
// /v1/messages/count_tokens when the upstream cannot count them: the bytes
// of the JSON text of messages, system and tools, 4 to a token (the rule of
// thumb aiapi's usage estimate uses), rounded up. messages is never empty,
// so neither is the count. It counts high for a byte-level tokenizer's
// usual text, and is no exact tokenizer's count.
func CountTokens(r *Request) int64 {
	var n int64
	for _, name := range []string{"messages", "system", "tools"} {
		if raw, ok := r.Body.Get(name); ok {
			n += int64(len(raw))
		}
	}
	return max((n+3)/4, 1)
}

// CountTokensBody is the count_tokens answer: {"input_tokens": n}.
func CountTokensBody(n int64) []byte {
	return marshal(struct {
		InputTokens int64 `json:"input_tokens"`
	}{n})
}

// FilterBetas drops from an anthropic-beta value (comma-separated names;
// join repeated headers with "," first) the betas an upstream refuses.
// refused holds names or path.Match globs ("context-management-*"),
// matched without regard to case, as a beta's spelling is the upstream's
// to read. The kept names keep their order and spelling; the result is ""
// when none is left, and the header should then not be sent.
func FilterBetas(header string, refused []string) string {
	var kept []string
	for _, beta := range strings.Split(header, ",") {
		beta = strings.TrimSpace(beta)
		if beta == "" || betaRefused(strings.ToLower(beta), refused) {
			continue
		}
		kept = append(kept, beta)
	}
	return strings.Join(kept, ",")
}

func betaRefused(beta string, refused []string) bool {
	for _, r := range refused {
		r = strings.ToLower(strings.TrimSpace(r))
		if ok, err := path.Match(r, beta); ok || (err != nil && r == beta) {
			return true
		}
	}
	return false
}

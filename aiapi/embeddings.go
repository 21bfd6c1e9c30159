package aiapi

import (
	"github.com/aigate/aigate/aiapi/provider"
)

// embeddingsAPI is OpenAI's embeddings API (POST /v1/embeddings), served
// through Provider.Embeddings. It is admitted like every other endpoint;
// the usage ledger tells its rows apart from chat completions.
var embeddingsAPI = &inbound{
	protocol:       provider.ProtocolChat,
	ledgerProtocol: "embeddings",
	writeError:     writeError,
	parse: func(body []byte) (*admission, error) {
		req, err := parseEmbeddingsRequest(body)
		if err != nil {
			return nil, err
		}
		// The body bounds the input's tokens (no output is reserved): a
		// text has at most one token per byte, and a token array takes at
		// least two bytes per token.
		a := &admission{
			body: req.body, model: req.model, bodyBytes: int64(len(body)), choices: 1,
			embed: &provider.EmbeddingsRequest{Body: req.body, Inputs: req.inputs},
		}
		// Without the upstream's count: token arrays are counted exactly,
		// texts estimated from the whole body.
		if req.inputs == nil {
			a.promptTokens = req.tokens
		}
		return a, nil
	},
}

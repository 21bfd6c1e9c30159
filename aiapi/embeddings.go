package aiapi

import (
	"net/http"

	"github.com/aigate/aigate/aiapi/provider"
)

// embeddings serves POST /v1/embeddings.
func (s *Server) embeddings(w http.ResponseWriter, r *http.Request, x *exchange) {
	body, ok := s.readBody(w, r, x, writeError)
	if !ok {
		return
	}
	req, err := parseEmbeddingsRequest(body)
	if err != nil {
		badRequest(w, err, writeError)
		return
	}
	x.model = req.model
	rt, ok := s.route(x.caller, req.model)
	if !ok {
		modelNotFound(w, req.model, writeError)
		return
	}
	// The body bounds the input's tokens: a text has at most one token per
	// byte, and a token array takes at least two bytes per token.
	upstream := rt.UpstreamModel
	if upstream == "" {
		upstream = req.model
	}
	res, ok := s.reserve(w, r, x, int64(len(body)), 0, upstream, openAIEmbeddings)
	if !ok {
		return
	}
	ctx, cancel := s.upstreamContext(r.Context(), rt)
	defer cancel()
	resp, err := s.providers[rt.Provider].Embeddings(ctx, &provider.EmbeddingsRequest{
		RequestID: x.id, Model: upstream, ResponseModel: req.model, Body: req.body, Inputs: req.inputs,
	})
	if err != nil {
		// The failure path chat takes: a caller who hung up is charged the
		// prompt, which the upstream may already have read.
		s.failedBeforeOutput(ctx, w, x, res, int64(len(body)), err, writeError)
		return
	}
	// Without the upstream's count: token arrays are counted exactly, texts
	// estimated from the whole body.
	u := estimate(int64(len(body)), 0)
	if req.inputs == nil {
		u.PromptTokens = req.tokens
	}
	if resp.Usage != nil {
		u = *resp.Usage
	}
	if err := s.settle(ctx, x, res, u); err != nil {
		x.err = err
		writeError(w, http.StatusInternalServerError, typeServer, codeInternal, "", "The server could not record the usage.")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(resp.Body)
}

package openai

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aigate/aigate/aiapi/provider"
	"github.com/aigate/aigate/aiapi/responses"
)

var _ provider.Forwarder = (*Client)(nil)

// Forwards reports whether requests in protocol p go to the upstream as they
// are: the Responses API does, unless NoResponses says the upstream lacks it.
func (c *Client) Forwards(p provider.Protocol) bool {
	return p == provider.ProtocolResponses && !c.NoResponses
}

// Forward sends a Responses request upstream: POST /responses (streamed or
// not) with the admitted body, or GET /responses/{id} for a response the
// upstream keeps. Only r.Header and this client's credential go with it. A
// non-streamed answer names r.ResponseModel; a stream is returned as it
// comes, and the caller renames the model in each event
// (responses.RenameModel). An upstream's 404 for an id is the caller's
// mistake (BadRequest); any other failure is classified as for Chat.
func (c *Client) Forward(ctx context.Context, r *provider.ForwardRequest) (*provider.ForwardResponse, error) {
	if !c.Forwards(r.Protocol) {
		return nil, provider.Errorf(provider.BadRequest, "this model's provider does not serve the %s protocol", r.Protocol)
	}
	cl := call{method: r.Method, path: r.Path, stream: r.Stream, header: r.Header, upstreamModel: r.Model, responseModel: r.ResponseModel}
	switch {
	case r.Method == http.MethodPost && r.Path == "/responses":
		if r.Body == nil {
			return nil, provider.Errorf(provider.BadRequest, "the request has no body")
		}
		cl.body = r.Body
	case r.Method == http.MethodGet && validResponsePath(r.Path):
		if r.Stream {
			return nil, provider.Errorf(provider.BadRequest, "a stored response cannot be streamed again")
		}
		cl.notFoundIsBadRequest = true
	default:
		return nil, provider.Errorf(provider.BadRequest, "%s of this path is not served for the Responses API", r.Method)
	}
	resp, err := c.send(ctx, cl)
	if err != nil {
		return nil, err
	}
	header := http.Header{}
	for _, name := range []string{"Content-Type", "X-Request-Id"} {
		if v := resp.Header.Get(name); v != "" {
			header.Set(name, v)
		}
	}
	if r.Stream {
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
			resp.Body.Close()
			return nil, &provider.Error{Kind: provider.Upstream, Message: "the upstream did not stream",
				Err: fmt.Errorf("openai: streamed answer of type %q", ct)}
		}
		return &provider.ForwardResponse{Status: resp.StatusCode, Header: header, Body: resp.Body}, nil
	}
	answer, err := c.readAnswer(resp, "output")
	if err != nil {
		return nil, err
	}
	if r.ResponseModel != "" {
		answer = responses.RenameModel(answer, r.ResponseModel)
	}
	header.Set("Content-Type", "application/json")
	return &provider.ForwardResponse{Status: resp.StatusCode, Header: header, Body: io.NopCloser(bytes.NewReader(answer))}, nil
}

// validResponsePath reports whether path is /responses/{id} with an id of
// the characters response ids are made of, so that no caller's path can
// reach another endpoint of the upstream ("/responses/../files").
func validResponsePath(path string) bool {
	id, ok := strings.CutPrefix(path, "/responses/")
	if !ok || id == "" || len(id) > 256 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

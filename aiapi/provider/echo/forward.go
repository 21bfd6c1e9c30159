package echo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/aigate/aigate/aiapi/ijson"
	"github.com/aigate/aigate/aiapi/provider"
	"github.com/aigate/aigate/aiapi/responses"
)

var _ provider.Forwarder = (*Model)(nil)

// Forwards reports that echo answers the Responses API itself (and chat
// completions through Chat), so that clients whose requests cannot be said
// in chat completions — Codex CLI sends hosted tools such as web_search —
// are answered offline too.
func (m *Model) Forwards(p provider.Protocol) bool {
	return p == provider.ProtocolResponses
}

// Forward answers a request in its own protocol by the echo rules: the last
// user message's words, capped by the request's output cap. Tools are
// ignored: echo never calls one.
func (m *Model) Forward(ctx context.Context, fr *provider.ForwardRequest) (*provider.ForwardResponse, error) {
	if fr.Method != http.MethodPost || fr.Protocol != provider.ProtocolResponses || fr.Path != "/responses" {
		return nil, provider.Errorf(provider.BadRequest, "the echo model keeps no responses: %s %s is not served", fr.Method, fr.Path)
	}
	req, err := responses.Parse(fr.Body)
	if err != nil {
		return nil, provider.Wrap(provider.BadRequest, "the echo model could not read the request", err)
	}
	// What echo ignores is dropped before the request is read as a
	// conversation, so that no tool the chat protocol lacks refuses it.
	b := req.Body.Clone()
	for _, name := range []string{"tools", "tool_choice", "parallel_tool_calls", "previous_response_id", "include", "reasoning", "text", "store"} {
		b.Delete(name)
	}
	if req, err = responses.Parse(b.Bytes()); err != nil {
		return nil, provider.Wrap(provider.BadRequest, "the echo model could not read the request", err)
	}
	chatBody, msgs, err := req.Chat(req.MaxOutputTokens)
	if err != nil {
		return nil, provider.Wrap(provider.BadRequest, "the echo model could not read the request", err)
	}
	cr := &provider.ChatRequest{
		RequestID: fr.RequestID, Model: fr.Model, ResponseModel: fr.ResponseModel, Body: chatBody,
		Messages: msgs, MaxTokens: req.MaxOutputTokens, N: 1, Stream: fr.Stream,
	}
	id := "resp_" + fr.RequestID
	if !fr.Stream {
		resp, err := m.Chat(ctx, cr)
		if err != nil {
			return nil, err
		}
		answer, err := responses.FromChat(resp.Body, id, fr.ResponseModel, m.created())
		if err != nil {
			return nil, provider.Wrap(provider.Upstream, "the echo model's answer could not be rendered", err)
		}
		return &provider.ForwardResponse{Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(bytes.NewReader(answer))}, nil
	}
	st, err := m.ChatStream(ctx, cr)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		defer st.Close()
		tr := responses.NewStream(id, fr.ResponseModel, m.created())
		write := func(es []responses.Event) error {
			for _, e := range es {
				if _, err := fmt.Fprintf(pw, "event: %s\ndata: %s\n\n", e.Type, e.Data); err != nil {
					return err
				}
			}
			return nil
		}
		var usage provider.Usage
		finish := "stop"
		if err := write(tr.Start()); err != nil {
			pw.CloseWithError(err)
			return
		}
		for {
			ch, err := st.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			if ch.Usage != nil {
				usage = *ch.Usage
			}
			if ch.UsageOnly {
				continue
			}
			if f := finishOf(ch.Data); f != "" {
				finish = f
			}
			es, err := tr.Chunk(ch.Data)
			if err == nil {
				err = write(es)
			}
			if err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.CloseWithError(write(tr.Complete(usage, finish)))
	}()
	return &provider.ForwardResponse{Status: http.StatusOK, Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: pr}, nil
}

// finishOf reads the finish_reason of a chunk echo built.
func finishOf(chunk []byte) string {
	o, err := ijson.Parse(chunk)
	if err != nil {
		return ""
	}
	raw, ok := o.Get("choices")
	if !ok {
		return ""
	}
	choices, err := ijson.Elements(raw, "choices")
	if err != nil || len(choices) == 0 {
		return ""
	}
	c, err := ijson.ParseObject(choices[0], "choices[0]")
	if err != nil {
		return ""
	}
	f, ok := c.Get("finish_reason")
	if !ok {
		return ""
	}
	s, _ := ijson.String(f, "finish_reason")
	return s
}

package responses_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3/packages/ssestream"
	sdk "github.com/openai/openai-go/v3/responses"

	"github.com/aigate/aigate/aiapi/provider"
	"github.com/aigate/aigate/aiapi/responses"
)

// The official SDK is the judge of the wire: what it cannot decode, or
// decodes to other text, no client would read right.

func TestSDKDecodesFromChat(t *testing.T) {
	chat := `{"choices":[{"message":{"content":"Hello there","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get","arguments":"{}"}}]},"finish_reason":"tool_calls"}],` +
		`"usage":{"prompt_tokens":10,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":4}}}`
	out, err := responses.FromChat([]byte(chat), "resp_1", "public", 1700000000)
	if err != nil {
		t.Fatal(err)
	}
	var r sdk.Response
	if err := r.UnmarshalJSON(out); err != nil {
		t.Fatal(err)
	}
	if r.OutputText() != "Hello there" || r.ID != "resp_1" || r.Model != "public" || r.Status != sdk.ResponseStatusCompleted {
		t.Errorf("SDK read %q, id %q, model %q, status %q", r.OutputText(), r.ID, r.Model, r.Status)
	}
	if r.Usage.InputTokens != 10 || r.Usage.OutputTokens != 3 || r.Usage.TotalTokens != 13 || r.Usage.InputTokensDetails.CachedTokens != 4 {
		t.Errorf("SDK usage %+v", r.Usage)
	}
	if len(r.Output) != 2 {
		t.Fatalf("output %d items", len(r.Output))
	}
	call := r.Output[1].AsFunctionCall()
	if call.CallID != "call_1" || call.Name != "get" || call.Arguments != "{}" {
		t.Errorf("SDK function call %+v", call)
	}
	for _, field := range []string{"id", "created_at", "model", "output", "parallel_tool_calls", "tool_choice", "tools", "temperature", "top_p", "metadata"} {
		if !validField(&r, field) {
			t.Errorf("required field %s missing", field)
		}
	}
}

// validField reports whether the SDK saw a required field.
func validField(r *sdk.Response, field string) bool {
	j := r.JSON
	switch field {
	case "id":
		return j.ID.Valid()
	case "created_at":
		return j.CreatedAt.Valid()
	case "model":
		return j.Model.Valid()
	case "output":
		return j.Output.Valid()
	case "parallel_tool_calls":
		return j.ParallelToolCalls.Valid()
	case "tool_choice":
		return j.ToolChoice.Valid()
	case "tools":
		return j.Tools.Valid()
	case "temperature":
		return j.Temperature.Valid()
	case "top_p":
		return j.TopP.Valid()
	case "metadata":
		return j.Metadata.Valid()
	}
	return false
}

// sse writes events as the AI API's handler does.
func sse(events []responses.Event) []byte {
	var b bytes.Buffer
	for _, e := range events {
		fmt.Fprintf(&b, "event: %s\ndata: %s\n\n", e.Type, e.Data)
	}
	return b.Bytes()
}

func TestSDKReadsTheTranslatedStream(t *testing.T) {
	events := streamOf(t, append(append([]string{}, toolChunks[:1]...), append(textChunks[1:3], toolChunks[1:]...)...),
		provider.Usage{PromptTokens: 9, CompletionTokens: 4}, "")
	res := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}},
		Body: io.NopCloser(bytes.NewReader(sse(events)))}
	stream := ssestream.NewStream[sdk.ResponseStreamEventUnion](ssestream.NewDecoder(res), nil)
	var (
		text, args strings.Builder
		completed  *sdk.Response
		n          int
	)
	for stream.Next() {
		ev := stream.Current()
		if ev.SequenceNumber != int64(n) {
			t.Errorf("event %d (%s) has sequence number %d", n, ev.Type, ev.SequenceNumber)
		}
		n++
		switch ev.Type {
		case "response.output_text.delta":
			text.WriteString(ev.AsResponseOutputTextDelta().Delta)
		case "response.function_call_arguments.delta":
			args.WriteString(ev.AsResponseFunctionCallArgumentsDelta().Delta)
		case "response.completed":
			r := ev.AsResponseCompleted().Response
			completed = &r
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(events) {
		t.Errorf("SDK read %d events of %d", n, len(events))
	}
	if text.String() != "Let me look.Hello" || args.String() != `{"a":1}{}` {
		t.Errorf("deltas: text %q, arguments %q", text.String(), args.String())
	}
	if completed == nil {
		t.Fatal("no response.completed")
	}
	if completed.OutputText() != "Let me look.Hello" || completed.Usage.InputTokens != 9 || completed.Usage.OutputTokens != 4 || completed.Usage.TotalTokens != 13 {
		t.Errorf("completed: text %q, usage %+v", completed.OutputText(), completed.Usage)
	}
	if len(completed.Output) != 3 || completed.Output[2].AsFunctionCall().Arguments != "{}" {
		t.Errorf("completed output %+v", completed.Output)
	}
}

func TestSDKReadsAFailedStream(t *testing.T) {
	s := responses.NewStream("resp_x", "public", 1)
	events := append(s.Start(), s.Fail("the upstream failed", provider.Usage{PromptTokens: 3})...)
	res := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}},
		Body: io.NopCloser(bytes.NewReader(sse(events)))}
	stream := ssestream.NewStream[sdk.ResponseStreamEventUnion](ssestream.NewDecoder(res), nil)
	var failed *sdk.Response
	for stream.Next() {
		if ev := stream.Current(); ev.Type == "response.failed" {
			r := ev.AsResponseFailed().Response
			failed = &r
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if failed == nil || failed.Status != sdk.ResponseStatusFailed || failed.Error.Message != "the upstream failed" || failed.Usage.InputTokens != 3 {
		t.Errorf("failed response %+v", failed)
	}
}

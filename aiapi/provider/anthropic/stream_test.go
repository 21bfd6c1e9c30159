package anthropic_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/aigate/aigate/aiapi/messages"
	"github.com/aigate/aigate/aiapi/provider"
	"github.com/aigate/aigate/aiapi/provider/anthropic"
	"github.com/aigate/aigate/aiapi/provider/anthropic/anthropictest"
)

// drain reads a stream to its end; err is what ended it (nil for io.EOF).
func drain(t *testing.T, st provider.Stream) (chunks []provider.Chunk, err error) {
	t.Helper()
	defer st.Close()
	for {
		ch, err := st.Next()
		if errors.Is(err, io.EOF) {
			return chunks, nil
		}
		if err != nil {
			return chunks, err
		}
		chunks = append(chunks, ch)
	}
}

// A stream of Anthropic's documented events, written out by hand (thinking,
// a ping, text, a tool call with streamed input, one without input),
// becomes these chat chunks, each with the usage known so far and the
// output it carries.
func TestDocumentedEventSequenceBecomesChatChunks(t *testing.T) {
	sse, err := os.ReadFile("testdata/tool_use_stream.sse")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write(sse)
	}))
	t.Cleanup(srv.Close)
	c := &anthropic.Client{BaseURL: srv.URL, Now: func() time.Time { return time.Unix(1700000000, 0) }}
	st, err := c.ChatStream(t.Context(), chatRequest(`{"messages":[{"role":"user","content":"Weather?"}]}`, true))
	if err != nil {
		t.Fatal(err)
	}
	chunks, err := drain(t, st)
	if err != nil {
		t.Fatal(err)
	}
	// Input: 472 new + 1000 written to the cache + 3000 read from it.
	in := provider.Usage{PromptTokens: 4472, CacheWriteTokens: 1000, CacheReadTokens: 3000}
	final := in
	final.CompletionTokens = 89
	const head = `{"id":"chatcmpl-r","object":"chat.completion.chunk","created":1700000000,"model":"public","choices":[`
	delta := func(d, finish string) string {
		return head + `{"index":0,"delta":` + d + `,"finish_reason":` + finish + `,"logprobs":null}]}`
	}
	want := []struct {
		data      string
		usage     provider.Usage
		out       int64
		usageOnly bool
	}{
		{delta(`{"role":"assistant","content":""}`, "null"), in, 0, false},
		{delta(`{"content":"Okay"}`, "null"), in, int64(len("The user wants the weather.") + len("Okay")), false},
		{delta(`{"content":", let's check."}`, "null"), in, int64(len(", let's check.")), false},
		{delta(`{"tool_calls":[{"index":0,"id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","type":"function","function":{"name":"get_weather","arguments":""}}]}`, "null"), in, int64(len("get_weather{}")), false},
		{delta(`{"tool_calls":[{"index":0,"function":{"arguments":"{\"location\":"}}]}`, "null"), in, int64(len(`{"location":`)), false},
		{delta(`{"tool_calls":[{"index":0,"function":{"arguments":" \"Paris\"}"}}]}`, "null"), in, int64(len(` "Paris"}`)), false},
		{delta(`{"tool_calls":[{"index":1,"id":"toolu_02","type":"function","function":{"name":"now","arguments":""}}]}`, "null"), in, int64(len("now{}")), false},
		{delta(`{"tool_calls":[{"index":1,"function":{"arguments":"{}"}}]}`, "null"), in, 0, false},
		{delta(`{}`, `"tool_calls"`), final, 0, false},
		{head + `],"usage":{"prompt_tokens":4472,"completion_tokens":89,"total_tokens":4561,"prompt_tokens_details":{"cached_tokens":3000}}}`, final, 0, true},
	}
	if len(chunks) != len(want) {
		for _, ch := range chunks {
			t.Logf("%s", ch.Data)
		}
		t.Fatalf("%d chunks, want %d", len(chunks), len(want))
	}
	for i, w := range want {
		ch := chunks[i]
		if string(ch.Data) != w.data {
			t.Errorf("chunk %d =\n%s\nwant\n%s", i, ch.Data, w.data)
		}
		if ch.Usage == nil || *ch.Usage != w.usage || ch.OutputBytes != w.out || ch.UsageOnly != w.usageOnly {
			t.Errorf("chunk %d: usage %+v, output %d, usage only %v; want %+v, %d, %v", i, ch.Usage, ch.OutputBytes, ch.UsageOnly, w.usage, w.out, w.usageOnly)
		}
	}
}

// Against the stand-in: the text streams word by word, the tool call's
// arguments arrive whole, the usage chunk comes last.
func TestStreamFromTheStandInAddsUp(t *testing.T) {
	s := anthropictest.NewServer(t)
	s.Answer = "It is sunny in Paris."
	s.ToolUse = &anthropictest.ToolUse{ID: "toolu_9", Name: "get_weather", Input: `{"city":"Paris","unit":"C"}`}
	s.OutputTokens = 21
	st, err := client(s).ChatStream(t.Context(), chatRequest(`{"messages":[{"role":"user","content":"Weather?"}]}`, true))
	if err != nil {
		t.Fatal(err)
	}
	chunks, err := drain(t, st)
	if err != nil {
		t.Fatal(err)
	}
	var text, args strings.Builder
	var out int64
	for _, ch := range chunks {
		d := gjson.GetBytes(ch.Data, "choices.0.delta")
		text.WriteString(d.Get("content").Str)
		args.WriteString(d.Get("tool_calls.0.function.arguments").Str)
		out += ch.OutputBytes
	}
	last := chunks[len(chunks)-1]
	if text.String() != s.Answer || args.String() != s.ToolUse.Input {
		t.Errorf("text %q, arguments %q", text.String(), args.String())
	}
	if !last.UsageOnly || last.Usage == nil || *last.Usage != (provider.Usage{PromptTokens: 12, CompletionTokens: 21}) {
		t.Errorf("last chunk %s, usage %+v", last.Data, last.Usage)
	}
	if want := int64(len(s.Answer) + len("get_weather{}") + len(s.ToolUse.Input)); out != want {
		t.Errorf("output bytes %d, want %d", out, want)
	}
}

// A stream cut before message_delta still says what it used: the input of
// message_start, an unreported output (0, to be estimated) and the bytes
// of the text that came.
func TestCutStreamReportsInputUsageAndOutputBytes(t *testing.T) {
	s := anthropictest.NewServer(t)
	s.Answer = "one two three four"
	s.CacheReadTokens = 50
	// message_start, ping, content_block_start, then two words.
	s.CutAfter = 5
	st, err := client(s).ChatStream(t.Context(), chatRequest(`{"messages":[{"role":"user","content":"Count"}]}`, true))
	if err != nil {
		t.Fatal(err)
	}
	chunks, err := drain(t, st)
	var pe *provider.Error
	if !errors.As(err, &pe) || pe.Kind != provider.Upstream || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want the stream broken off", err)
	}
	var out int64
	var usage *provider.Usage
	for _, ch := range chunks {
		out += ch.OutputBytes
		if ch.Usage != nil {
			usage = ch.Usage
		}
	}
	if want := (provider.Usage{PromptTokens: 62, CacheReadTokens: 50}); usage == nil || *usage != want {
		t.Errorf("usage %+v, want %+v", usage, want)
	}
	if out != int64(len("one two ")) {
		t.Errorf("output bytes %d, want %d", out, len("one two "))
	}
}

// Events are read as they come: the first words are there while the
// upstream still holds the rest.
func TestStreamIsReadEventByEvent(t *testing.T) {
	s := anthropictest.NewServer(t)
	s.Answer = "first second"
	s.Pause, s.PauseAfter = make(chan struct{}), 4 // after the first word
	st, err := client(s).ChatStream(t.Context(), chatRequest(`{"messages":[{"role":"user","content":"Go"}]}`, true))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, want := range []string{"", "first "} {
		ch, err := st.Next()
		if err != nil || gjson.GetBytes(ch.Data, "choices.0.delta.content").Str != want {
			t.Fatalf("chunk %s, %v; want content %q", ch.Data, err, want)
		}
	}
	close(s.Pause)
	chunks, err := drain(t, st)
	if err != nil || gjson.GetBytes(chunks[0].Data, "choices.0.delta.content").Str != "second" {
		t.Fatalf("rest %v, %v", chunks, err)
	}
}

func TestEventReaderReadsTheEventStreamFormat(t *testing.T) {
	in := ": a comment\r\nevent: message_start\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\n" +
		"event: ignored\n\n" + // no data: nothing dispatched, its type forgotten
		"data: {\"type\":\"ping\"}\nid: 7\n\n" +
		"event: message_stop\ndata: {}" // the last event needs no blank line
	r := provider.NewEventReader(strings.NewReader(in))
	for _, want := range [][2]string{{"message_start", "{\"a\":\n1}"}, {"", `{"type":"ping"}`}, {"message_stop", "{}"}} {
		typ, data, err := r.Next()
		if err != nil || typ != want[0] || string(data) != want[1] {
			t.Fatalf("Next = %q, %q, %v; want %q, %q", typ, data, err, want[0], want[1])
		}
	}
	if _, _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("after the last event: %v, want EOF", err)
	}
	long := provider.NewEventReader(strings.NewReader("data: " + strings.Repeat("x", provider.MaxEventBytes+1) + "\n\n"))
	if _, _, err := long.Next(); !errors.Is(err, provider.ErrEventTooLarge) {
		t.Errorf("an event too large: %v", err)
	}
}

// The meter on a forwarded stream cut mid-answer.
func TestStreamMeterOnACutForwardedStream(t *testing.T) {
	s := anthropictest.NewServer(t)
	s.Answer = "alpha beta gamma"
	s.InputTokens, s.CacheCreationTokens = 40, 8
	s.CutAfter = 5 // message_start, ping, content_block_start, two words
	resp, err := s.Client().Forward(t.Context(), &provider.ForwardRequest{
		Protocol: provider.ProtocolMessages, Method: "POST", Path: "/messages", Stream: true,
		Body: []byte(`{"model":"claude-upstream-1","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"Go"}]}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var (
		m     messages.StreamMeter
		usage *provider.Usage
		out   int64
	)
	r := provider.NewEventReader(resp.Body)
	for {
		typ, data, err := r.Next()
		if err != nil {
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("stream ended with %v, want it cut", err)
			}
			break
		}
		u, n := m.Event(typ, data)
		usage, out = u, out+n
	}
	if want := (provider.Usage{PromptTokens: 48, CacheWriteTokens: 8}); usage == nil || *usage != want {
		t.Errorf("usage %+v, want %+v", usage, want)
	}
	if out != int64(len("alpha beta ")) {
		t.Errorf("output %d, want %d", out, len("alpha beta "))
	}
}

package provider

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

func events(t *testing.T, stream string) ([]string, error) {
	t.Helper()
	r := NewEventReader(strings.NewReader(stream))
	var out []string
	for {
		_, data, err := r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		out = append(out, string(data))
	}
}

func TestSSEReaderFollowsTheEventStreamFormat(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stream string
		want   []string
	}{
		{"OpenAI's stream", "data: {\"a\":1}\n\ndata: [DONE]\n\n", []string{`{"a":1}`, "[DONE]"}},
		{"CRLF lines", "data: x\r\n\r\ndata: y\r\n\r\n", []string{"x", "y"}},
		{"no space after the colon", "data:x\n\n", []string{"x"}},
		{"one space only is removed", "data:  x\n\n", []string{" x"}},
		{"multi-line data joined by newlines", "data: a\ndata: b\n\n", []string{"a\nb"}},
		{"comments and other fields skipped", ": keep-alive\nevent: message\nid: 3\nretry: 10\ndata: x\n\n", []string{"x"}},
		{"events without data skipped", "event: ping\n\ndata: x\n\n", []string{"x"}},
		{"blank lines between events", "\n\n\ndata: x\n\n\n\ndata: y\n\n", []string{"x", "y"}},
		{"last event without its blank line", "data: x\n\ndata: y", []string{"x", "y"}},
		{"a field named like data is not data", "datax: no\ndata2: no\ndata: yes\n\n", []string{"yes"}},
		{"empty data is an event", "data:\n\n", []string{""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := events(t, tc.stream)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
				t.Errorf("events %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSSEReaderBoundsAnEvent(t *testing.T) {
	huge := "data: " + strings.Repeat("x", MaxEventBytes+1) + "\n\n"
	if _, err := events(t, huge); !errors.Is(err, ErrEventTooLarge) {
		t.Errorf("an event over the bound: %v", err)
	}
	many := strings.Repeat("data: "+strings.Repeat("x", 1<<20)+"\n", 9) + "\n"
	if _, err := events(t, many); !errors.Is(err, ErrEventTooLarge) {
		t.Errorf("many lines over the bound: %v", err)
	}
	long := "data: " + strings.Repeat("y", 100<<10) + "\n\n"
	if got, err := events(t, long); err != nil || len(got) != 1 || len(got[0]) != 100<<10 {
		t.Errorf("a long line within the bound: %d events, %v", len(got), err)
	}
}

// referenceEvents parses a whole stream the plain way, for FuzzSSEReader:
// split into lines at "\n" (dropping one "\r" before it, or at the very
// end), dispatch the "data" fields at each blank line and at the end.
func referenceEvents(stream string) []string {
	lines := strings.Split(stream, "\n")
	if strings.HasSuffix(stream, "\n") || stream == "" {
		lines = lines[:len(lines)-1] // no line after the last end
	}
	var out []string
	var data []string
	has := false
	for _, line := range lines {
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			if has {
				out = append(out, strings.Join(data, "\n"))
				data, has = nil, false
			}
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		if field != "data" {
			continue
		}
		data = append(data, strings.TrimPrefix(value, " "))
		has = true
	}
	if has {
		out = append(out, strings.Join(data, "\n"))
	}
	return out
}

// FuzzSSEReader: the streaming reader finds exactly the events the plain
// reference parser finds, whatever an upstream sends (the bound on an
// event's size is far above what the fuzzer makes).
func FuzzSSEReader(f *testing.F) {
	for _, seed := range []string{
		"data: {\"a\":1}\n\ndata: [DONE]\n\n",
		"data: x\r\n\r\ndata: y\r\n\r\n",
		"data:  x\n\n",
		"data: a\ndata: b\n\n",
		": keep-alive\nevent: message\nid: 3\nretry: 10\ndata: x\n\n",
		"data: x\n\ndata: y",
		"datax: no\ndata2: no\ndata: yes\n\n",
		"data\n\ndata:\r\r\n\rdata: a\rb\r",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, stream string) {
		got, err := events(t, stream)
		if err != nil {
			t.Fatalf("stream %q: %v", stream, err)
		}
		if want := referenceEvents(stream); !slices.Equal(got, want) {
			t.Fatalf("stream %q: events %q, the reference finds %q", stream, got, want)
		}
	})
}

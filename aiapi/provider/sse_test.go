package provider

import (
	"errors"
	"io"
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

// The upstream's stream is not the caller's input, but nothing an upstream
// sends may crash the AI API.
func FuzzSSEReader(f *testing.F) {
	f.Add("data: {\"a\":1}\n\ndata: [DONE]\n\n")
	f.Fuzz(func(t *testing.T, stream string) {
		r := NewEventReader(strings.NewReader(stream))
		for range len(stream) + 1 {
			_, data, err := r.Next()
			if err != nil {
				return
			}
			if len(data) > len(stream) {
				t.Fatalf("event of %d bytes from a %d-byte stream", len(data), len(stream))
			}
		}
		t.Fatal("more events than bytes")
	})
}

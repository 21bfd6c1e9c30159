package logbuf

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// sink records each write it gets.
type sink struct {
	mu     sync.Mutex
	writes []string
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes = append(s.writes, string(p))
	return len(p), nil
}

func (s *sink) all() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.writes, ""), len(s.writes)
}

// never is an interval no test waits for: only Flush, Close and a full
// buffer write out.
const never = time.Hour

func TestLinesAreHeldUntilFlushThenWrittenTogetherInOrder(t *testing.T) {
	s := &sink{}
	w := New(s, never, 1024)
	defer w.Close()
	for i := range 3 {
		fmt.Fprintf(w, "line %d\n", i)
	}
	if got, n := s.all(); n != 0 {
		t.Fatalf("written before Flush: %q", got)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, n := s.all(); got != "line 0\nline 1\nline 2\n" || n != 1 {
		t.Fatalf("after Flush: %d writes %q, want one write of the three lines in order", n, got)
	}
}

func TestAFullBufferIsWrittenByTheWriteThatFillsIt(t *testing.T) {
	s := &sink{}
	w := New(s, never, 16)
	defer w.Close()
	w.Write([]byte("0123456789\n")) // 11 bytes
	w.Write([]byte("abcdefghij\n")) // would make 22 > 16: the first goes out
	if got, _ := s.all(); got != "0123456789\n" {
		t.Fatalf("written %q, want the first line only", got)
	}
	big := bytes.Repeat([]byte("x"), 100)
	w.Write(big) // larger than the buffer: kept whole
	w.Close()
	if got, _ := s.all(); got != "0123456789\nabcdefghij\n"+string(big) {
		t.Fatalf("after Close: %q", got)
	}
}

// signalSink tells each write on a channel.
type signalSink struct{ wrote chan string }

func (s signalSink) Write(p []byte) (int, error) {
	s.wrote <- string(p)
	return len(p), nil
}

func TestTheIntervalWritesOut(t *testing.T) {
	s := signalSink{wrote: make(chan string, 1)}
	w := New(s, time.Millisecond, 1024)
	w.Write([]byte("tick\n"))
	// Nothing but the ticker writes out before Close: the first write is
	// the interval's.
	if got := <-s.wrote; got != "tick\n" {
		t.Fatalf("the interval wrote %q", got)
	}
	go func() {
		for range s.wrote { // Close's flush, if any, must not block
		}
	}()
	w.Close()
	close(s.wrote)
}

func TestConcurrentWritesStayWhole(t *testing.T) {
	s := &sink{}
	w := New(s, time.Millisecond, 256)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				fmt.Fprintf(w, "g%d-%03d\n", g, i)
			}
		})
	}
	wg.Wait()
	w.Close()
	got, _ := s.all()
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 8*200 {
		t.Fatalf("%d lines, want %d", len(lines), 8*200)
	}
	next := map[string]int{}
	for _, l := range lines {
		var g, i int
		if _, err := fmt.Sscanf(l, "g%d-%d", &g, &i); err != nil || len(l) != 6 {
			t.Fatalf("torn line %q", l)
		}
		key := fmt.Sprint(g)
		if i != next[key] {
			t.Fatalf("goroutine %d: line %d after %d", g, i, next[key]-1)
		}
		next[key]++
	}
}

func TestHandlerWritesOutAtItsLevel(t *testing.T) {
	s := &sink{}
	w := New(s, never, 1<<20)
	defer w.Close()
	log := slog.New(Handler(slog.NewTextHandler(w, nil), w, slog.LevelWarn)).With("component", "test")
	log.Info("held")
	if got, n := s.all(); n != 0 {
		t.Fatalf("an Info line was written at once: %q", got)
	}
	log.Warn("urgent")
	got, _ := s.all()
	if !strings.Contains(got, "msg=held") || !strings.Contains(got, "msg=urgent") || !strings.Contains(got, "component=test") ||
		strings.Index(got, "held") > strings.Index(got, "urgent") {
		t.Fatalf("after a warning: %q, want both lines in order", got)
	}
}

func BenchmarkWrite(b *testing.B) {
	w := New(discard{}, DefaultInterval, DefaultSize)
	defer w.Close()
	line := []byte(`{"time":"2026-12-02T11:47:37.753798559Z","level":"INFO","msg":"gateway: request","request_id":"93f741fb-b6d6-4a62-9d7f-27d2acf89755","status":200}` + "\n")
	b.ReportAllocs()
	for b.Loop() {
		w.Write(line)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkRequestLineToFile is a gateway-like JSON line through slog to a
// file, as `aigate serve` writes its log with stderr redirected: one
// write(2) per line, against logbuf's batches.
func BenchmarkRequestLineToFile(b *testing.B) {
	for _, buffered := range []bool{false, true} {
		b.Run(fmt.Sprintf("buffered=%v", buffered), func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "log"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			var h slog.Handler = slog.NewJSONHandler(f, nil)
			if buffered {
				w := New(f, DefaultInterval, DefaultSize)
				defer w.Close()
				h = Handler(slog.NewJSONHandler(w, nil), w, slog.LevelWarn)
			}
			log := slog.New(h)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					log.LogAttrs(context.Background(), slog.LevelInfo, "gateway: request",
						slog.String("request_id", "93f741fb-b6d6-4a62-9d7f-27d2acf89755"), slog.String("method", "POST"),
						slog.String("path", "/v1/chat/completions"), slog.String("route", "ANY /v1/{proxy+}"),
						slog.Int("status", 200), slog.Int64("latency_us", 812))
				}
			})
		})
	}
}

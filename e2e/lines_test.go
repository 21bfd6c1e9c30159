package e2e

import (
	"bufio"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// lineLog collects the lines a process writes to one of its outputs, so
// that a test can wait for the line that says something happened instead
// of sleeping until it probably has.
type lineLog struct {
	mu      sync.Mutex
	lines   []string
	changed chan struct{} // closed and replaced at each new line
	eof     chan struct{} // closed once the output is closed
}

// newLineLog reads r until it ends.
func newLineLog(r io.Reader) *lineLog {
	l := &lineLog{changed: make(chan struct{}), eof: make(chan struct{})}
	go func() {
		defer close(l.eof)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			l.mu.Lock()
			l.lines = append(l.lines, sc.Text())
			close(l.changed)
			l.changed = make(chan struct{})
			l.mu.Unlock()
		}
		io.Copy(io.Discard, r) // a line too long: keep the writer unblocked
	}()
	return l
}

// String is everything read so far.
func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n") + "\n"
}

// next waits for the first line from index from on that match accepts and
// returns it with the index after it. ok is false when the output ended or
// d passed without one.
func (l *lineLog) next(from int, d time.Duration, match func(string) bool) (line string, after int, ok bool) {
	timeout := time.After(d)
	for {
		l.mu.Lock()
		for ; from < len(l.lines); from++ {
			if match(l.lines[from]) {
				line := l.lines[from]
				l.mu.Unlock()
				return line, from + 1, true
			}
		}
		changed := l.changed
		l.mu.Unlock()
		select {
		case <-changed:
		case <-l.eof:
			l.mu.Lock()
			more := from < len(l.lines)
			l.mu.Unlock()
			if !more {
				return "", from, false
			}
		case <-timeout:
			return "", from, false
		}
	}
}

// waitFor waits for a line containing s and returns it; the test fails
// when none comes within d.
func (l *lineLog) waitFor(t *testing.T, s string, d time.Duration) string {
	t.Helper()
	line, _, ok := l.next(0, d, func(x string) bool { return strings.Contains(x, s) })
	if !ok {
		t.Fatalf("no line with %q within %v in:\n%s", s, d, l)
	}
	return line
}

// closed waits until the output has ended (its process has exited), so
// that String holds all of it.
func (l *lineLog) closed(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-l.eof:
	case <-time.After(d):
		t.Fatalf("the output did not end within %v", d)
	}
}

// Package logbuf takes log writes off the request path: lines are copied
// into memory and written out together, at most an interval later, so
// that a server writing a line or two per request makes a few write(2)
// calls a second instead of thousands. It never drops a line while the
// process lives: a full buffer is written out by the writer that filled
// it. What it may lose is stated by Writer: the lines of the last interval
// when the process dies without Close (kill -9, a fatal runtime error).
package logbuf

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Defaults for New's zero arguments.
const (
	DefaultInterval = 100 * time.Millisecond
	DefaultSize     = 64 << 10
)

// Writer buffers writes to an io.Writer. Each Write is kept whole and in
// order. Buffered bytes are written out every interval, when they reach
// size (by the Write that reaches it, so memory stays bounded and a slow
// sink slows writers down, as an unbuffered one would), on Flush and on
// Close. If the process dies without Close, up to one interval of lines
// (at most size bytes and the line that filled it) are lost.
type Writer struct {
	out  io.Writer
	size int

	mu  sync.Mutex // guards buf
	buf []byte

	wmu   sync.Mutex // orders writes to out
	spare []byte     // the buffer being written out, reused; wmu guards it

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// New starts a Writer over out. interval ≤ 0 means DefaultInterval; size ≤
// 0 means DefaultSize. Close stops its goroutine.
func New(out io.Writer, interval time.Duration, size int) *Writer {
	if interval <= 0 {
		interval = DefaultInterval
	}
	if size <= 0 {
		size = DefaultSize
	}
	w := &Writer{out: out, size: size, buf: make([]byte, 0, size), spare: make([]byte, 0, size),
		stop: make(chan struct{}), done: make(chan struct{})}
	go w.run(interval)
	return w
}

func (w *Writer) run(interval time.Duration) {
	defer close(w.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			w.Flush()
		case <-w.stop:
			return
		}
	}
}

// Write copies p into the buffer; it writes the buffer out first when p
// would take it past its size. The error is the sink's, from that write.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	if len(w.buf) > 0 && len(w.buf)+len(p) > w.size {
		w.mu.Unlock()
		if err := w.Flush(); err != nil {
			return 0, err
		}
		w.mu.Lock()
	}
	w.buf = append(w.buf, p...)
	w.mu.Unlock()
	return len(p), nil
}

// Flush writes out what is buffered.
func (w *Writer) Flush() error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	w.mu.Lock()
	out := w.buf
	w.buf = w.spare[:0]
	w.mu.Unlock()
	var err error
	if len(out) > 0 {
		_, err = w.out.Write(out)
	}
	if cap(out) > 4*w.size {
		out = make([]byte, 0, w.size) // one huge line must not stay resident
	}
	w.spare = out[:0]
	return err
}

// Close writes out what is buffered and stops the Writer's goroutine.
// Writes after Close are still written, at the next Flush or Close.
func (w *Writer) Close() error {
	w.once.Do(func() {
		close(w.stop)
		<-w.done
	})
	return w.Flush()
}

// Handler wraps h, which writes to w, so that a record at level or above
// (a warning, an error) is written out at once with everything before it:
// the lines that matter most when a process is about to die are the ones
// the buffer must not hold.
func Handler(h slog.Handler, w *Writer, level slog.Level) slog.Handler {
	return &handler{Handler: h, w: w, level: level}
}

type handler struct {
	slog.Handler
	w     *Writer
	level slog.Level
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= h.level {
		if ferr := h.w.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &handler{Handler: h.Handler.WithAttrs(attrs), w: h.w, level: h.level}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{Handler: h.Handler.WithGroup(name), w: h.w, level: h.level}
}

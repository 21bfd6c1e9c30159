package server

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/aigate/aigate/duration"
)

// Limits bound what one client connection may hold of `aigate serve`
// before anyone has checked its credentials: without them a client that
// sends headers promising a body and never sends it keeps a connection
// (and a goroutine) for ever. Zero fields take the defaults below.
type Limits struct {
	// ReadHeaderTimeout bounds reading a request line and its headers,
	// from the request's first byte. Default 10s.
	ReadHeaderTimeout duration.Duration `yaml:"readHeaderTimeout,omitempty"`
	// ReadTimeout bounds reading a whole request, body included. A body
	// that stalls past it is answered (the AI API's 400, the gateway's own
	// answer) and the connection closed. Net/http lifts the deadline once
	// the body is read, so it does not bound the answer. Default 60s.
	ReadTimeout duration.Duration `yaml:"readTimeout,omitempty"`
	// WriteTimeout bounds writing one response, from its first byte: a
	// client that stops reading loses the connection. It does not count the
	// time a handler waits for an upstream before answering. A streaming
	// handler extends it before each write
	// (http.ResponseController.SetWriteDeadline), so a long stream is
	// bounded per write, not as a whole. Default 120s.
	WriteTimeout duration.Duration `yaml:"writeTimeout,omitempty"`
	// IdleTimeout closes a keep-alive connection that sends no new request.
	// Default 120s.
	IdleTimeout duration.Duration `yaml:"idleTimeout,omitempty"`
	// MaxConnections bounds the connections open at once. One more is
	// answered 503 and closed at once (a client that already sent its
	// request may see a reset instead), so the process never runs out of
	// file descriptors. Default 4096.
	MaxConnections int `yaml:"maxConnections,omitempty"`
}

// DefaultLimits are the limits of a config that sets none.
func DefaultLimits() Limits {
	return Limits{
		ReadHeaderTimeout: duration.Duration(10 * time.Second),
		ReadTimeout:       duration.Duration(60 * time.Second),
		WriteTimeout:      duration.Duration(120 * time.Second),
		IdleTimeout:       duration.Duration(120 * time.Second),
		MaxConnections:    4096,
	}
}

// WithDefaults returns l with its zero fields set to DefaultLimits.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits()
	for _, f := range []struct{ v, def *duration.Duration }{
		{&l.ReadHeaderTimeout, &d.ReadHeaderTimeout},
		{&l.ReadTimeout, &d.ReadTimeout},
		{&l.WriteTimeout, &d.WriteTimeout},
		{&l.IdleTimeout, &d.IdleTimeout},
	} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	if l.MaxConnections == 0 {
		l.MaxConnections = d.MaxConnections
	}
	return l
}

// validate refuses negative limits; path names the config section.
func (l Limits) validate(path string) error {
	for _, f := range []struct {
		name string
		v    duration.Duration
	}{
		{"readHeaderTimeout", l.ReadHeaderTimeout},
		{"readTimeout", l.ReadTimeout},
		{"writeTimeout", l.WriteTimeout},
		{"idleTimeout", l.IdleTimeout},
	} {
		if f.v < 0 {
			return fmt.Errorf("server: %s.%s: %v: must be above 0 (or omitted for the default)", path, f.name, f.v)
		}
	}
	if l.MaxConnections < 0 {
		return fmt.Errorf("server: %s.maxConnections: %d: must be above 0 (or omitted for the default)", path, l.MaxConnections)
	}
	return nil
}

// HTTPServer returns an http.Server that serves h within l (zero fields:
// the defaults). Serve it on l.Listener(ln) for the connection bound.
func (l Limits) HTTPServer(h http.Handler) *http.Server {
	l = l.WithDefaults()
	return &http.Server{
		Handler:           writeDeadlines(h, l.WriteTimeout.Std()),
		ReadHeaderTimeout: l.ReadHeaderTimeout.Std(),
		ReadTimeout:       l.ReadTimeout.Std(),
		// Covers what net/http writes before a handler runs (its own 400s,
		// 431s); writeDeadlines takes over inside handlers.
		WriteTimeout: l.WriteTimeout.Std(),
		IdleTimeout:  l.IdleTimeout.Std(),
	}
}

// writeDeadlines makes WriteTimeout count from a response's first byte.
// net/http arms it when the request has been read, so on its own it would
// also count an upstream's thinking time, and a non-streamed answer that
// took longer than WriteTimeout to produce would be lost, unsent but
// metered.
func writeDeadlines(next http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		// Nothing is written until the handler writes; a client cannot
		// hold a blocked write before then.
		rc.SetWriteDeadline(time.Time{})
		dw := &deadlineWriter{ResponseWriter: w, rc: rc, d: d}
		// net/http flushes what the handler left buffered after it
		// returns: that flush gets a full WriteTimeout too.
		defer func() { rc.SetWriteDeadline(time.Now().Add(d)) }()
		next.ServeHTTP(dw, r)
	})
}

// deadlineWriter arms the write deadline at the response's first byte,
// unless the handler has set one itself. It keeps Flush for handlers that
// assert http.Flusher, and Unwrap so that http.ResponseController reaches
// the connection (SetReadDeadline, EnableFullDuplex) through it.
type deadlineWriter struct {
	http.ResponseWriter
	rc    *http.ResponseController
	d     time.Duration
	armed bool
}

func (w *deadlineWriter) arm() {
	if !w.armed {
		w.armed = true
		w.rc.SetWriteDeadline(time.Now().Add(w.d))
	}
}

func (w *deadlineWriter) WriteHeader(code int) {
	w.arm()
	w.ResponseWriter.WriteHeader(code)
}

func (w *deadlineWriter) Write(b []byte) (int, error) {
	w.arm()
	return w.ResponseWriter.Write(b)
}

func (w *deadlineWriter) Flush() { w.FlushError() }

// FlushError is what http.ResponseController.Flush calls, so that a flush
// that fails (the client is gone) says so.
func (w *deadlineWriter) FlushError() error {
	w.arm()
	return w.rc.Flush()
}

// SetWriteDeadline is a handler taking over the write deadline (a stream
// extending it per event): the first byte no longer re-arms it.
func (w *deadlineWriter) SetWriteDeadline(t time.Time) error {
	w.armed = true
	return w.rc.SetWriteDeadline(t)
}

func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Listener bounds ln to l.MaxConnections open connections (zero: the
// default). A connection over the bound is answered 503 and closed while
// the others are served, rather than left waiting in the kernel's backlog
// with no word of why.
func (l Limits) Listener(ln net.Listener) net.Listener {
	l = l.WithDefaults()
	return &connLimit{Listener: ln, slots: make(chan struct{}, l.MaxConnections)}
}

// connLimit is a listener with a bounded number of open connections.
type connLimit struct {
	net.Listener
	slots chan struct{} // one element per open connection
}

// busy is the whole answer to a connection over the limit, in API
// Gateway's error shape.
var busy = func() string {
	const body = `{"message":"Service Unavailable"}`
	return "HTTP/1.1 503 Service Unavailable\r\n" +
		"Content-Type: application/json\r\n" +
		"Retry-After: 1\r\n" +
		"Connection: close\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n" +
		"\r\n" + body
}()

func (l *connLimit) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &limitedConn{Conn: c, slots: l.slots}, nil
		default:
		}
		// A fresh socket's send buffer takes the answer without blocking;
		// the deadline is there in case it does not.
		c.SetWriteDeadline(time.Now().Add(time.Second))
		io.WriteString(c, busy)
		c.Close()
	}
}

// limitedConn gives its slot back when closed, once.
type limitedConn struct {
	net.Conn
	slots chan struct{}
	once  sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { <-c.slots })
	return err
}

package gateway

import (
	"bytes"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"sync"
)

// API Gateway hands REST integrations and authorizers the header names as
// the client spelt them (x-api-key stays x-api-key), while Go's server
// canonicalizes them (X-Api-Key) and keeps no trace of the original. So the
// spelling is read off the wire: PreserveHeaderCase wraps the listener, each
// connection parses the HTTP/1.x stream it reads, just enough to find every
// request's header names (and, to skip bodies, Content-Length and chunked
// framing), and queues them. The handler finds its connection's queue in the
// local address that Go's server puts in the request context, and takes the
// oldest entry with its method, target and header names.
//
// Whatever the parser does not understand (TLS bytes, HTTP/2, an upgrade, a
// malformed request) stops recording on that connection: the gateway then
// falls back to Go's canonical spelling, never to a wrong one.

// PreserveHeaderCase wraps a plain-HTTP listener so that the gateway serving
// its connections passes header names on in the client's spelling, as API
// Gateway does in REST events and proxy integrations. Without it the names
// arrive in Go's canonical form. Wrap the listener that http.Server.Serve
// accepts from; TLS must not be terminated above it (the recorder would see
// ciphertext and give up).
func PreserveHeaderCase(ln net.Listener) net.Listener {
	return &caseListener{Listener: ln}
}

type caseListener struct{ net.Listener }

func (l *caseListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	rec := &headerRecorder{}
	return &caseConn{Conn: c, rec: rec, local: &recordingAddr{Addr: c.LocalAddr(), rec: rec}}, nil
}

// caseConn feeds what the server reads to the connection's recorder.
type caseConn struct {
	net.Conn
	rec   *headerRecorder
	local net.Addr
}

func (c *caseConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.rec.feed(p[:n])
	}
	return n, err
}

// LocalAddr carries the recorder to the handler: Go's server stores it in
// the request context under http.LocalAddrContextKey.
func (c *caseConn) LocalAddr() net.Addr { return c.local }

// CloseWrite keeps the half-close that Go's server uses on TCP connections.
func (c *caseConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// recordingAddr is the connection's local address, unchanged in String,
// with its recorder.
type recordingAddr struct {
	net.Addr
	rec *headerRecorder
}

// takeHeaderNames returns r's header names as the client spelt them, or nil
// when its listener does not record them.
func takeHeaderNames(r *http.Request) []string {
	a, ok := r.Context().Value(http.LocalAddrContextKey).(*recordingAddr)
	if !ok || r.ProtoMajor != 1 {
		return nil
	}
	return a.rec.take(r)
}

// headerName returns the client's spelling of the canonical header name k,
// or k itself when it is unknown.
func (rq *request) headerName(k string) string {
	if rq.headerNames == nil {
		return k
	}
	if rq.spelling == nil {
		rq.spelling = make(map[string]string, len(rq.headerNames))
		for _, n := range rq.headerNames {
			c := textproto.CanonicalMIMEHeaderKey(n)
			// Of two spellings of one name, the first is kept: Go has
			// merged their values under one key.
			if _, ok := rq.spelling[c]; !ok {
				rq.spelling[c] = n
			}
		}
	}
	if n, ok := rq.spelling[k]; ok {
		return n
	}
	return k
}

// recordedHeader is one request's header block as it came in.
type recordedHeader struct {
	method, target string
	names          []string
}

const (
	maxPendingHeaders = 32      // header blocks read ahead and not yet taken
	maxLine           = 8 << 10 // bytes of a line kept; longer lines record no name
	maxNames          = 1000    // names kept per request
)

// headerRecorder parses one connection's request stream. feed runs on the
// server's reading goroutines, take on the handler's: a mutex orders them.
// Go's server hands a request to the handler only after reading its whole
// header block, so the entry is always queued by then.
type headerRecorder struct {
	mu      sync.Mutex
	pending []recordedHeader

	state     recState
	line      []byte // the current line, up to maxLine bytes
	overflow  bool   // the current line was longer
	cur       recordedHeader
	remaining int64    // body or chunk bytes left to skip
	lengths   []string // Content-Length values
	encodings int      // Transfer-Encoding lines
	chunked   bool
}

type recState uint8

const (
	recRequestLine recState = iota
	recHeaders
	recBody
	recChunkSize
	recChunkData
	recChunkEnd
	recTrailers
	recBroken // gave up on this connection
)

func (h *headerRecorder) feed(p []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for len(p) > 0 && h.state != recBroken {
		switch h.state {
		case recBody, recChunkData:
			n := min(int64(len(p)), h.remaining)
			h.remaining -= n
			p = p[n:]
			if h.remaining == 0 {
				if h.state == recBody {
					h.state = recRequestLine
				} else {
					h.state = recChunkEnd
				}
			}
			continue
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			h.keep(p)
			return
		}
		h.keep(p[:i])
		p = p[i+1:]
		line := bytes.TrimSuffix(h.line, []byte("\r"))
		h.endLine(line)
		h.line, h.overflow = h.line[:0], false
	}
}

func (h *headerRecorder) keep(b []byte) {
	room := maxLine - len(h.line)
	if len(b) > room {
		b = b[:room]
		h.overflow = true
	}
	h.line = append(h.line, b...)
}

// endLine handles one complete line (without its line ending).
func (h *headerRecorder) endLine(line []byte) {
	switch h.state {
	case recRequestLine:
		if len(line) == 0 {
			return // a stray line ending between requests
		}
		method, rest, ok1 := bytes.Cut(line, []byte(" "))
		target, version, ok2 := bytes.Cut(rest, []byte(" "))
		if !ok1 || !ok2 || h.overflow || !isToken(string(method)) ||
			string(version) != "HTTP/1.1" && string(version) != "HTTP/1.0" {
			// Not HTTP/1.x (TLS, HTTP/2's preface, garbage).
			h.state = recBroken
			return
		}
		h.cur = recordedHeader{method: string(method), target: string(target)}
		h.lengths, h.encodings, h.chunked = nil, 0, false
		h.state = recHeaders
	case recHeaders:
		if len(line) == 0 {
			h.endHeaders()
			return
		}
		if line[0] == ' ' || line[0] == '\t' {
			return // obsolete line folding: a value goes on
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			h.state = recBroken
			return
		}
		if len(h.cur.names) < maxNames {
			h.cur.names = append(h.cur.names, string(name))
		}
		framing := true
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			h.lengths = append(h.lengths, string(bytes.TrimSpace(value)))
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			h.encodings++
			h.chunked = bytes.EqualFold(bytes.TrimSpace(value), []byte("chunked"))
		default:
			framing = false
		}
		if framing && h.overflow {
			// A framing value cut short could misplace the next request.
			h.state = recBroken
		}
	case recChunkSize:
		size, _, _ := bytes.Cut(line, []byte(";"))
		size = bytes.TrimSpace(size)
		n, err := strconv.ParseInt(string(size), 16, 64)
		if err != nil || n < 0 || len(size) > 15 {
			h.state = recBroken
			return
		}
		if n == 0 {
			h.state = recTrailers
			return
		}
		h.remaining, h.state = n, recChunkData
	case recChunkEnd:
		if len(line) != 0 {
			h.state = recBroken
			return
		}
		h.state = recChunkSize
	case recTrailers:
		if len(line) == 0 {
			h.state = recRequestLine
		}
	}
}

// endHeaders queues the request's names and finds how its body is framed,
// with Go's server's rules: Transfer-Encoding chunked wins over
// Content-Length; several Content-Length values must agree; without either
// there is no body. What Go refuses stops the recording.
func (h *headerRecorder) endHeaders() {
	h.pending = append(h.pending, h.cur)
	if len(h.pending) > maxPendingHeaders {
		h.pending = h.pending[1:]
	}
	h.cur = recordedHeader{}
	switch {
	case h.encodings > 1 || h.encodings == 1 && !h.chunked:
		h.state = recBroken
	case h.chunked:
		h.state = recChunkSize
	case len(h.lengths) > 0:
		for _, v := range h.lengths[1:] {
			if v != h.lengths[0] {
				h.state = recBroken
				return
			}
		}
		n, err := strconv.ParseUint(h.lengths[0], 10, 63)
		if err != nil {
			h.state = recBroken
			return
		}
		h.remaining = int64(n)
		if n == 0 {
			h.state = recRequestLine
		} else {
			h.state = recBody
		}
	default:
		h.state = recRequestLine
	}
}

// take returns the names of the oldest queued request that is r: same
// method and target, and every recorded name present in r.Header (but those
// Go moves out of it). Older entries are dropped: their requests went
// elsewhere. Nil when none is r.
func (h *headerRecorder) take(r *http.Request) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, e := range h.pending {
		if e.method != r.Method || e.target != r.RequestURI || !namesOf(e.names, r.Header) {
			continue
		}
		h.pending = h.pending[i+1:]
		return e.names
	}
	return nil
}

func namesOf(names []string, header http.Header) bool {
	for _, n := range names {
		switch k := textproto.CanonicalMIMEHeaderKey(n); k {
		case "Host", "Content-Length", "Transfer-Encoding", "Trailer":
		default:
			if _, ok := header[k]; !ok {
				return false
			}
		}
	}
	return true
}

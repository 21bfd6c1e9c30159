package e2e_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aigate/aigate/aiapi"
	"github.com/aigate/aigate/keys"
	"github.com/aigate/aigate/quota"
)

// A caller that stops reading must not hold its stream open (security
// review: a stalled reader outlived its reservation and 2.8 MB of output
// was recorded as 0). Each event write has a deadline; when it passes, the
// stream ends and what was produced is settled.
func TestStalledReaderIsCutAndSettledToWhatWasSent(t *testing.T) {
	cfg := aiapi.DefaultConfig()
	cfg.StreamWriteTimeout = 300 * time.Millisecond
	cfg.MaxRequestBytes = 32 << 20
	s := newStack(t, cfg)
	id, secret := s.key(t, keys.Spec{})

	// 2,000 words of 4 KiB: 8 MB of output, more than loopback buffers hold.
	word := strings.Repeat("x", 4096)
	text := strings.TrimSpace(strings.Repeat(word+" ", 2000))
	body := fmt.Sprintf(`{"model":"echo","stream":true,"max_tokens":2000,"messages":[{"role":"user","content":%q}]}`, text)

	// A client with a small receive buffer that reads the headers and the
	// first event, then nothing.
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	conn, err := d.DialContext(t.Context(), "tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", secret, len(body), body)
	br := bufio.NewReaderSize(conn, 16)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream: %v %v", resp, err)
	}

	var es []quota.Entry
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && len(es) == 0; time.Sleep(20 * time.Millisecond) {
		es = s.ledger(t, quota.Query{PrincipalID: id})
	}
	if len(es) != 1 {
		t.Fatalf("ledger = %+v: the stalled stream was not ended and settled", es)
	}
	if e := es[0]; e.CompletionTokens < 1 || e.CompletionTokens >= 2000 {
		t.Errorf("settled %+v, want the words sent before the caller stalled (some, not all 2000)", e)
	}
	if n := s.pending(t); n != 0 {
		t.Errorf("%d reservations still pending", n)
	}
}

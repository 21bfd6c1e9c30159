package e2e_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openai/openai-go/v3/option"

	"github.com/aigate/aigate/aiapi"
	"github.com/aigate/aigate/duration"
	"github.com/aigate/aigate/keys"
	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
)

// A caller that stops reading must not hold its stream open (security
// review: a stalled reader outlived its reservation and 2.8 MB of output
// was recorded as 0). Each event write has a deadline; when it passes, the
// stream ends and what was produced is settled.
func TestStalledReaderIsCutAndSettledToWhatWasSent(t *testing.T) {
	cfg := aiapi.DefaultConfig()
	cfg.StreamWriteTimeout = duration.Duration(300 * time.Millisecond)
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
		es = s.ledger(t, quota.Query{PrincipalID: record.KeyPrincipalID(id)})
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

// A stream the caller cuts at any event, before any usage report, is
// settled with completion tokens for what was sent, whatever kind of output
// it was (security review: 18 KB of tool-call arguments settled as 0).
func TestStreamCutAtAnyEventIsChargedForItsOutput(t *testing.T) {
	args := strings.Repeat(`{\"city\":\"Paris\"}`, 200)
	const events = 5
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for i := 0; i < events; i++ {
			fmt.Fprintf(w, `data: {"id":"c","object":"chat.completion.chunk","model":"up-internal","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"%s"}}]}}]}`+"\n\n", args)
			rc.Flush()
		}
		<-r.Context().Done() // no usage chunk: the caller leaves first
	})
	s := newStack(t, withUpstream(t, u, 0))
	for cut := 1; cut <= events; cut++ {
		t.Run(fmt.Sprintf("after event %d", cut), func(t *testing.T) {
			id, secret := s.key(t, keys.Spec{Name: fmt.Sprintf("cut%d", cut)})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			c := s.client(secret)
			st := c.Chat.Completions.NewStreaming(ctx, chatParams("up", "weather?"))
			for got := 0; got < cut && st.Next(); got++ {
			}
			cancel()
			st.Close()
			var es []quota.Entry
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && len(es) == 0; time.Sleep(10 * time.Millisecond) {
				es = s.ledger(t, quota.Query{PrincipalID: record.KeyPrincipalID(id)})
			}
			if len(es) != 1 {
				t.Fatalf("ledger = %+v, want the cut stream settled", es)
			}
			if min := int64(cut * len(args) / 4); es[0].CompletionTokens < min {
				t.Errorf("settled %d completion tokens for %d events of %d-byte arguments, want at least %d", es[0].CompletionTokens, cut, len(args), min)
			}
		})
	}
}

// A stream keeps its reservation pending while it runs, however long: the
// sweep that releases reservations of dead processes never takes a live
// one (security review: a reservation expired under a running stream).
func TestRunningStreamKeepsItsReservation(t *testing.T) {
	cfg := aiapi.DefaultConfig()
	cfg.UpstreamTimeout = duration.Duration(time.Minute)
	cfg.ReservationTTL = duration.Duration(10 * time.Minute)
	s := newStack(t, cfg)
	id, secret := s.key(t, keys.Spec{})
	c := s.client(secret)
	st := c.Chat.Completions.NewStreaming(t.Context(), chatParams("echo", strings.Repeat("word ", 40)), option.WithJSONSet("delay_ms", 20))
	defer st.Close()
	words := 0
	next := func() {
		t.Helper()
		if !st.Next() {
			t.Fatalf("stream ended early: %v", st.Err())
		}
		if st.Current().Choices[0].Delta.Content != "" {
			words++
		}
	}
	next()
	// 6 minutes pass (the AI API's clock): over half the TTL, so the next
	// chunk extends the reservation; 6 more and the original expiry (10
	// minutes) is behind, the extended one (16) ahead.
	for i := 0; i < 2; i++ {
		s.Clock.Advance(6 * time.Minute)
		next()
		next()
		if n, err := s.Server.ExpireReservations(t.Context()); err != nil || n != 0 {
			t.Fatalf("after %d × 6 min the sweep released %d (%v): the running stream lost its reservation", i+1, n, err)
		}
	}
	for st.Next() {
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	es := s.ledger(t, quota.Query{PrincipalID: record.KeyPrincipalID(id)})
	if len(es) != 1 || es[0].CompletionTokens != 40 {
		t.Fatalf("ledger = %+v, want one row of 40 words", es)
	}
}

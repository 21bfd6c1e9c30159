package quota_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store/sqlite"
)

// A request reserves its upper bound, is served, and is settled to what it
// really used; a request over a limit is denied with what the caller needs
// to wait.
func ExampleLimiter() {
	dir, _ := os.MkdirTemp("", "quota-example")
	defer os.RemoveAll(dir)
	st, _ := sqlite.Open(context.Background(), filepath.Join(dir, "aigate.db"))
	defer st.Close()

	now := time.Date(2026, 11, 25, 14, 0, 30, 0, time.UTC)
	l := &quota.Limiter{Ledger: st, Now: func() time.Time { return now }}
	limits := record.Limits{RPM: 60, TokensPerDay: 1000}
	ctx := context.Background()

	r, status, err := l.Reserve(ctx, quota.Request{ID: "req-1", PrincipalID: "key-1", Model: "echo", Tokens: 900, Limits: limits})
	if err != nil {
		panic(err)
	}
	h := http.Header{}
	quota.SetHeaders(h, status, now)
	fmt.Println(h.Get(quota.HeaderRemainingRequests), h.Get(quota.HeaderResetRequests))

	// While req-1 holds 900 tokens, another 200 do not fit the day.
	_, _, err = l.Reserve(ctx, quota.Request{ID: "req-2", PrincipalID: "key-1", Tokens: 200, Limits: limits})
	var d *quota.Denial
	fmt.Println(errors.As(err, &d), d.Limit, d.Budget())

	// Settled to the real 12 + 30 tokens, the rest of the bound comes back.
	e, _ := l.Settle(ctx, r, 12, 30)
	fmt.Println(e.RequestID, e.PromptTokens+e.CompletionTokens, e.ReservedTokens)
	_, _, err = l.Reserve(ctx, quota.Request{ID: "req-3", PrincipalID: "key-1", Tokens: 200, Limits: limits})
	fmt.Println(err)
	// Output:
	// 59 30s
	// true tokens_per_day true
	// req-1 42 900
	// <nil>
}

// A stream keeps its reservation while it runs: KeepAlive, called for every
// chunk, extends it once less than half the TTL is left, so the sweep for
// reservations of dead processes leaves it alone.
func ExampleLimiter_KeepAlive() {
	dir, _ := os.MkdirTemp("", "quota-example")
	defer os.RemoveAll(dir)
	st, _ := sqlite.Open(context.Background(), filepath.Join(dir, "aigate.db"))
	defer st.Close()

	now := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	l := &quota.Limiter{Ledger: st, TTL: 10 * time.Minute, Now: func() time.Time { return now }}
	ctx := context.Background()
	r, _, _ := l.Reserve(ctx, quota.Request{ID: "stream-1", PrincipalID: "key-1", Model: "echo", Tokens: 4000})

	// Twenty minutes of chunks, one a second.
	for range 20 * 60 {
		now = now.Add(time.Second)
		if err := l.KeepAlive(ctx, &r); err != nil {
			panic(err)
		}
	}
	n, _ := l.ExpireReservations(ctx)
	fmt.Println("released:", n, "expires in:", r.ExpiresAt.Sub(now))

	e, _ := l.Settle(ctx, r, 100, 3000)
	fmt.Println(e.PromptTokens+e.CompletionTokens, e.Late)
	// Output:
	// released: 0 expires in: 5m3s
	// 3100 false
}

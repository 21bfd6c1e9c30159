package quota_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
)

func TestWindowsAreCalendarWindowsInUTC(t *testing.T) {
	for _, tc := range []struct {
		at                     time.Time
		minute, day, month     string
		minuteEnd, dayEnd, end string
	}{
		{time.Date(2024, 2, 29, 23, 59, 59, 999, time.UTC),
			"2024-02-29T23:59:00Z", "2024-02-29T00:00:00Z", "2024-02-01T00:00:00Z",
			"2024-03-01T00:00:00Z", "2024-03-01T00:00:00Z", "2024-03-01T00:00:00Z"},
		// 00:30 in UTC+2 is 22:30 the day before in UTC.
		{time.Date(2025, 1, 1, 0, 30, 0, 0, time.FixedZone("UTC+2", 7200)),
			"2024-12-31T22:30:00Z", "2024-12-31T00:00:00Z", "2024-12-01T00:00:00Z",
			"2024-12-31T22:31:00Z", "2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z"},
	} {
		w := quota.WindowsAt(tc.at)
		for name, got := range map[string][2]string{
			"minute":    {w.Minute.Format(time.RFC3339), tc.minute},
			"day":       {w.Day.Format(time.RFC3339), tc.day},
			"month":     {w.Month.Format(time.RFC3339), tc.month},
			"minuteEnd": {w.MinuteEnd().Format(time.RFC3339), tc.minuteEnd},
			"dayEnd":    {w.DayEnd().Format(time.RFC3339), tc.dayEnd},
			"monthEnd":  {w.MonthEnd().Format(time.RFC3339), tc.end},
		} {
			if got[0] != got[1] {
				t.Errorf("%v: %s = %s, want %s", tc.at, name, got[0], got[1])
			}
		}
	}
}

func TestResetIsFormattedLikeOpenAIs(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second:                          "0s",
		0:                                     "0s",
		1:                                     "1ms",
		250 * time.Millisecond:                "250ms",
		999*time.Millisecond + 1:              "1s",
		time.Second:                           "1s",
		16*time.Second + 1:                    "17s",
		6 * time.Minute:                       "6m0s",
		59*time.Second + 500*time.Millisecond: "1m0s",
	} {
		if got := quota.FormatReset(d); got != want {
			t.Errorf("FormatReset(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestRetryAfterIsWholeSecondsAndNeverZero(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for wait, want := range map[time.Duration]time.Duration{
		-time.Second:           time.Second,
		0:                      time.Second,
		300 * time.Millisecond: time.Second,
		59*time.Second + 1:     60 * time.Second,
		12 * time.Hour:         12 * time.Hour,
	} {
		if got := quota.RetryAfter(&quota.Denial{ResetAt: now.Add(wait)}, now); got != want {
			t.Errorf("RetryAfter in %v = %v, want %v", wait, got, want)
		}
	}
}

func TestHeadersLeaveOutUnlimitedDimensions(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 40, 0, time.UTC)
	h := http.Header{}
	quota.SetHeaders(h, quota.Status{RequestsLimit: 60, RequestsRemaining: 59, TokensRemaining: -5, Reset: now.Add(20 * time.Second)}, now)
	if h.Get(quota.HeaderLimitRequests) != "60" || h.Get(quota.HeaderRemainingRequests) != "59" || h.Get(quota.HeaderResetRequests) != "20s" {
		t.Errorf("request headers = %v", h)
	}
	if h.Get(quota.HeaderLimitTokens) != "" || h.Get(quota.HeaderRemainingTokens) != "" {
		t.Errorf("token headers for an unlimited dimension: %v", h)
	}
	h = http.Header{}
	quota.SetHeaders(h, quota.Status{TokensLimit: 100, TokensRemaining: -5, Reset: now.Add(time.Second)}, now)
	if h.Get(quota.HeaderRemainingTokens) != "0" {
		t.Errorf("remaining tokens = %q, want 0, never negative", h.Get(quota.HeaderRemainingTokens))
	}
}

func TestDenialHeaders(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 40, 0, time.UTC)
	limits := record.Limits{RPM: 10, TPM: 1000, TokensPerDay: 5000}
	d := &quota.Denial{Limit: quota.LimitRequestsPerMinute, Max: 10, Used: 10, ResetAt: now.Add(20 * time.Second)}
	t.Run("without the store's status", func(t *testing.T) {
		h := http.Header{}
		quota.SetDenialHeaders(h, d, quota.Status{}, limits, now)
		if h.Get("Retry-After") != "20" || h.Get(quota.HeaderRemainingRequests) != "0" || h.Get(quota.HeaderLimitRequests) != "10" {
			t.Errorf("headers = %v", h)
		}
		if h.Get(quota.HeaderLimitTokens) != "" {
			t.Errorf("the tokens dimension, which the denial does not describe, has headers: %v", h)
		}
	})
	t.Run("with the store's status", func(t *testing.T) {
		h := http.Header{}
		st := quota.Status{RequestsLimit: 10, TokensLimit: 1000, TokensRemaining: 400, Reset: now.Add(20 * time.Second)}
		quota.SetDenialHeaders(h, d, st, limits, now)
		if h.Get(quota.HeaderRemainingTokens) != "400" || h.Get(quota.HeaderRemainingRequests) != "0" {
			t.Errorf("headers = %v", h)
		}
	})
	t.Run("a budget", func(t *testing.T) {
		h := http.Header{}
		day := &quota.Denial{Limit: quota.LimitTokensPerDay, Max: 5000, Used: 4990, ResetAt: now.Add(12 * time.Hour)}
		quota.SetDenialHeaders(h, day, quota.Status{}, limits, now)
		if h.Get("Retry-After") != "43200" || !day.Budget() {
			t.Errorf("headers = %v", h)
		}
	})
	t.Run("not a denial", func(t *testing.T) {
		h := http.Header{}
		quota.SetDenialHeaders(h, errors.New("store down"), quota.Status{}, limits, now)
		if len(h) != 0 {
			t.Errorf("headers for an error that is no denial: %v", h)
		}
	})
}

// recordingLedger keeps what the Limiter hands it.
type recordingLedger struct {
	quota.Reservations // all a Limiter may use
	reserved           []quota.Reservation
	settled            []quota.Settlement
	extended           []time.Time
	gone               bool
	deny               error
}

func (l *recordingLedger) Reserve(_ context.Context, r quota.Reservation, _ record.Limits) (quota.Status, error) {
	if l.deny != nil {
		return quota.Status{RequestsLimit: 1, Reset: r.Windows.MinuteEnd()}, l.deny
	}
	l.reserved = append(l.reserved, r)
	return quota.Status{}, nil
}

func (l *recordingLedger) Settle(_ context.Context, s quota.Settlement) (quota.Entry, error) {
	l.settled = append(l.settled, s)
	return quota.Entry{RequestID: s.Reservation.ID}, nil
}

// Extend records the expiry asked for; gone makes it fail as for a
// reservation no longer pending.
func (l *recordingLedger) Extend(_ context.Context, id string, expiresAt time.Time) error {
	if l.gone {
		return fmt.Errorf("recording: %s: %w", id, record.ErrNotFound)
	}
	l.extended = append(l.extended, expiresAt)
	return nil
}

func TestSettlePassesTheReservationAndIsNeverEarlierThanIt(t *testing.T) {
	created := time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		now    time.Time
		wantAt time.Time
	}{
		{"now", created.Add(time.Minute), created.Add(time.Minute)},
		{"a clock gone back", created.Add(-time.Second), created},
	} {
		t.Run(tc.name, func(t *testing.T) {
			led := &recordingLedger{}
			l := &quota.Limiter{Ledger: led, Now: func() time.Time { return tc.now }}
			r := quota.Reservation{ID: "r1", PrincipalID: "p", Tenant: "t", Model: "m", Tokens: 9,
				Windows: quota.WindowsAt(created), CreatedAt: created, ExpiresAt: created.Add(time.Minute)}
			if _, err := l.Settle(context.Background(), r, 1, 2); err != nil {
				t.Fatal(err)
			}
			if got := led.settled[0]; got.Reservation != r || !got.At.Equal(tc.wantAt) || got.PromptTokens != 1 || got.CompletionTokens != 2 {
				t.Errorf("settlement = %+v, want %+v at %v", got, r, tc.wantAt)
			}
		})
	}
}

func TestKeepAliveExtendsOnlyOnceHalfTheTTLIsGone(t *testing.T) {
	start := time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)
	now := start
	led := &recordingLedger{}
	l := &quota.Limiter{Ledger: led, TTL: 10 * time.Minute, Now: func() time.Time { return now }}
	r, _, err := l.Reserve(context.Background(), quota.Request{ID: "r1", PrincipalID: "p"})
	if err != nil {
		t.Fatal(err)
	}
	// A stream calling KeepAlive every 30 s for 30 minutes.
	for ; now.Before(start.Add(30 * time.Minute)); now = now.Add(30 * time.Second) {
		if err := l.KeepAlive(context.Background(), &r); err != nil {
			t.Fatalf("KeepAlive at %v: %v", now.Sub(start), err)
		}
		if left := r.ExpiresAt.Sub(now); left < 5*time.Minute-30*time.Second {
			t.Fatalf("at %v the reservation has %v left, want about half the TTL at least", now.Sub(start), left)
		}
	}
	// Extended at the first call with less than 5 minutes left: 5:30,
	// 11:00, ... 27:30. Once per TTL/2 or so, not per call.
	if len(led.extended) != 5 {
		t.Errorf("%d extensions in 30 minutes, want 5: %v", len(led.extended), led.extended)
	}
	for i, at := range led.extended {
		if want := start.Add(time.Duration(i+1)*330*time.Second + 10*time.Minute); !at.Equal(want) {
			t.Errorf("extension %d to %v, want %v", i, at, want)
		}
	}
	if !r.ExpiresAt.Equal(led.extended[len(led.extended)-1]) {
		t.Errorf("the caller's ExpiresAt %v is not the last extension", r.ExpiresAt)
	}
}

func TestExtendOfAReservationGoneKeepsItsExpiryAndSaysNotFound(t *testing.T) {
	now := time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)
	led := &recordingLedger{gone: true}
	l := &quota.Limiter{Ledger: led, Now: func() time.Time { return now }}
	r := quota.Reservation{ID: "r1", ExpiresAt: now.Add(-time.Second)}
	if !l.ExtendDue(r) {
		t.Error("a reservation past its expiry is not due for an extension")
	}
	err := l.KeepAlive(context.Background(), &r)
	if !errors.Is(err, record.ErrNotFound) {
		t.Errorf("KeepAlive = %v, want ErrNotFound", err)
	}
	if !r.ExpiresAt.Equal(now.Add(-time.Second)) {
		t.Errorf("ExpiresAt moved to %v although the store refused", r.ExpiresAt)
	}
	led.gone = false
	if err := l.Extend(context.Background(), &r); err != nil || !r.ExpiresAt.Equal(now.Add(quota.DefaultReservationTTL)) {
		t.Errorf("Extend = %v, ExpiresAt %v; want DefaultReservationTTL from now", err, r.ExpiresAt)
	}
	if l.ExtendDue(r) {
		t.Error("a reservation just extended is due again")
	}
}

func TestLimiterReservesInTheWindowsOfNowAndExpiresAfterTheTTL(t *testing.T) {
	now := time.Date(2026, 3, 31, 23, 59, 30, 0, time.FixedZone("CET", 3600))
	led := &recordingLedger{}
	l := &quota.Limiter{Ledger: led, TTL: 2 * time.Minute, Now: func() time.Time { return now }}
	r, _, err := l.Reserve(context.Background(), quota.Request{ID: "r1", PrincipalID: "p", Tenant: "t", Model: "m", Tokens: 42})
	if err != nil {
		t.Fatal(err)
	}
	if r.Windows != quota.WindowsAt(now) || !r.CreatedAt.Equal(now) || !r.ExpiresAt.Equal(now.Add(2*time.Minute)) || r.Tokens != 42 || r.CreatedAt.Location() != time.UTC {
		t.Errorf("reservation = %+v", r)
	}
	if _, err := l.Settle(context.Background(), r, 3, 4); err != nil || led.settled[0].PromptTokens != 3 || !led.settled[0].At.Equal(now) {
		t.Errorf("settlement = %+v, %v", led.settled, err)
	}
	for _, bad := range []quota.Request{{PrincipalID: "p"}, {ID: "r"}, {ID: "r", PrincipalID: "p", Tokens: -1}} {
		if _, _, err := l.Reserve(context.Background(), bad); err == nil {
			t.Errorf("Reserve(%+v) succeeded", bad)
		}
	}
	if _, err := l.Settle(context.Background(), r, -1, 0); err == nil {
		t.Error("negative usage settled")
	}
	// A denial comes back as it is, with the store's status.
	led.deny = &quota.Denial{Limit: quota.LimitRequestsPerMinute}
	_, st, err := l.Reserve(context.Background(), quota.Request{ID: "r2", PrincipalID: "p"})
	var d *quota.Denial
	if !errors.As(err, &d) || st.RequestsLimit != 1 {
		t.Errorf("denied Reserve = %+v, %v", st, err)
	}
	// Without a TTL the default applies.
	l.TTL = 0
	led.deny = nil
	r, _, _ = l.Reserve(context.Background(), quota.Request{ID: "r3", PrincipalID: "p"})
	if r.ExpiresAt.Sub(r.CreatedAt) != quota.DefaultReservationTTL {
		t.Errorf("TTL = %v", r.ExpiresAt.Sub(r.CreatedAt))
	}
}

func BenchmarkSetHeaders(b *testing.B) {
	now := time.Now()
	st := quota.Status{RequestsLimit: 60, RequestsRemaining: 59, TokensLimit: 100000, TokensRemaining: 90000, Reset: now.Add(17 * time.Second)}
	h := http.Header{}
	b.ReportAllocs()
	for b.Loop() {
		quota.SetHeaders(h, st, now)
	}
}

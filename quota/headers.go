package quota

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/aigate/aigate/record"
)

// The rate-limit headers, named as OpenAI sends them, so that OpenAI
// clients that back off on them work unchanged.
const (
	HeaderLimitRequests     = "x-ratelimit-limit-requests"
	HeaderRemainingRequests = "x-ratelimit-remaining-requests"
	HeaderResetRequests     = "x-ratelimit-reset-requests"
	HeaderLimitTokens       = "x-ratelimit-limit-tokens"
	HeaderRemainingTokens   = "x-ratelimit-remaining-tokens"
	HeaderResetTokens       = "x-ratelimit-reset-tokens"
	HeaderRetryAfter        = "Retry-After"
)

// SetHeaders sets the x-ratelimit-* headers for s at now. A dimension whose
// limit is zero (unlimited) gets no headers: there is nothing to count down.
// Both dimensions reset with the minute window.
func SetHeaders(h http.Header, s Status, now time.Time) {
	reset := FormatReset(s.Reset.Sub(now))
	if s.RequestsLimit > 0 {
		h.Set(HeaderLimitRequests, strconv.FormatInt(s.RequestsLimit, 10))
		h.Set(HeaderRemainingRequests, strconv.FormatInt(max(s.RequestsRemaining, 0), 10))
		h.Set(HeaderResetRequests, reset)
	}
	if s.TokensLimit > 0 {
		h.Set(HeaderLimitTokens, strconv.FormatInt(s.TokensLimit, 10))
		h.Set(HeaderRemainingTokens, strconv.FormatInt(max(s.TokensRemaining, 0), 10))
		h.Set(HeaderResetTokens, reset)
	}
}

// DenialStatus is the Status to report with a denial: st when the store
// returned one, otherwise what the denial itself tells, which covers only
// the denied dimension when it is a per-minute one (the other dimension's
// headers are then left out rather than guessed).
func DenialStatus(d *Denial, st Status, limits record.Limits) Status {
	if !st.Reset.IsZero() {
		return st
	}
	switch d.Limit {
	case LimitRequestsPerMinute:
		return Status{RequestsLimit: limits.RPM, RequestsRemaining: max(d.Max-d.Used, 0), Reset: d.ResetAt}
	case LimitTokensPerMinute:
		return Status{TokensLimit: limits.TPM, TokensRemaining: max(d.Max-d.Used, 0), Reset: d.ResetAt}
	}
	return Status{}
}

// RetryAfter is how long a denied caller should wait: until the denied
// window resets, rounded up to a whole second, and at least one second (a
// Retry-After of 0 invites a client to hammer).
func RetryAfter(d *Denial, now time.Time) time.Duration {
	wait := d.ResetAt.Sub(now)
	secs := (wait + time.Second - 1) / time.Second
	return max(secs, 1) * time.Second
}

// SetDenialHeaders sets Retry-After (whole seconds) and the x-ratelimit-*
// headers for a denial. err must wrap a *Denial; otherwise nothing is set.
func SetDenialHeaders(h http.Header, err error, st Status, limits record.Limits, now time.Time) {
	var d *Denial
	if !errors.As(err, &d) {
		return
	}
	h.Set(HeaderRetryAfter, strconv.FormatInt(int64(RetryAfter(d, now)/time.Second), 10))
	SetHeaders(h, DenialStatus(d, st, limits), now)
}

// FormatReset formats the time until a window resets as OpenAI's
// x-ratelimit-reset-* headers do: Go duration syntax, "250ms" under a
// second, whole seconds above ("1s", "17s", "6m0s"). It rounds up, so that
// a client waiting that long finds the window reset.
func FormatReset(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return ((d + time.Millisecond - 1) / time.Millisecond * time.Millisecond).String()
	default:
		return ((d + time.Second - 1) / time.Second * time.Second).String()
	}
}

package messages

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
)

// ErrorBody is an error answer in Anthropic's shape,
// {"type":"error","error":{"type":errType,"message":message}}, which
// Claude Code and the SDKs match on.
func ErrorBody(errType, message string) []byte {
	type detail struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}
	return marshal(struct {
		Type  string `json:"type"`
		Error detail `json:"error"`
	}{"error", detail{errType, message}})
}

// ErrorType is Anthropic's error type for an HTTP status. aigate keeps its
// own statuses (a 502 stays a 502) and names them as Anthropic's API
// reference does where it has a name: 503, aigate's "upstream unavailable",
// is overloaded_error (Anthropic's 529), which clients treat as "retry
// later", as it is; 504 is timeout_error, which the SDKs know. Other 4xx are
// invalid_request_error, other 5xx api_error.
func ErrorType(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "invalid_request_error"
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusPaymentRequired:
		return "billing_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case http.StatusServiceUnavailable, 529:
		return "overloaded_error"
	case http.StatusGatewayTimeout:
		return "timeout_error"
	}
	if status >= 400 && status < 500 {
		return "invalid_request_error"
	}
	return "api_error"
}

// The rate-limit headers, named as Anthropic sends them, so that Anthropic
// clients that back off on them work unchanged. Anthropic's resets are
// points in time (RFC 3339), where OpenAI's are durations.
const (
	HeaderRequestsLimit     = "anthropic-ratelimit-requests-limit"
	HeaderRequestsRemaining = "anthropic-ratelimit-requests-remaining"
	HeaderRequestsReset     = "anthropic-ratelimit-requests-reset"
	HeaderTokensLimit       = "anthropic-ratelimit-tokens-limit"
	HeaderTokensRemaining   = "anthropic-ratelimit-tokens-remaining"
	HeaderTokensReset       = "anthropic-ratelimit-tokens-reset"
	HeaderRetryAfter        = "retry-after"
)

// SetRateLimitHeaders sets the anthropic-ratelimit-* headers for s, the
// same status quota.SetHeaders writes as x-ratelimit-*: a dimension whose
// limit is zero (unlimited) gets none, and both reset with the minute
// window, written rounded up to the second so that a client waiting until
// then finds the window reset.
func SetRateLimitHeaders(h http.Header, s quota.Status) {
	reset := s.Reset.UTC()
	if t := reset.Truncate(time.Second); !t.Equal(reset) {
		reset = t.Add(time.Second)
	}
	at := reset.Format(time.RFC3339)
	if s.RequestsLimit > 0 {
		h.Set(HeaderRequestsLimit, strconv.FormatInt(s.RequestsLimit, 10))
		h.Set(HeaderRequestsRemaining, strconv.FormatInt(max(s.RequestsRemaining, 0), 10))
		h.Set(HeaderRequestsReset, at)
	}
	if s.TokensLimit > 0 {
		h.Set(HeaderTokensLimit, strconv.FormatInt(s.TokensLimit, 10))
		h.Set(HeaderTokensRemaining, strconv.FormatInt(max(s.TokensRemaining, 0), 10))
		h.Set(HeaderTokensReset, at)
	}
}

// SetDenialHeaders sets retry-after (whole seconds, quota.RetryAfter) and
// the anthropic-ratelimit-* headers for a 429, as quota.SetDenialHeaders
// does for OpenAI's; the handler sets both. err must wrap a *quota.Denial;
// otherwise nothing is set.
func SetDenialHeaders(h http.Header, err error, st quota.Status, limits record.Limits, now time.Time) {
	var d *quota.Denial
	if !errors.As(err, &d) {
		return
	}
	h.Set(HeaderRetryAfter, strconv.FormatInt(int64(quota.RetryAfter(d, now)/time.Second), 10))
	SetRateLimitHeaders(h, quota.DenialStatus(d, st, limits))
}

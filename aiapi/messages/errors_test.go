package messages

import (
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
)

func TestErrorBodyIsAnthropicsShape(t *testing.T) {
	got := ErrorBody("not_found_error", `model "x" <not> found`)
	want := `{"type":"error","error":{"type":"not_found_error","message":"model \"x\" <not> found"}}`
	if string(got) != want {
		t.Fatalf("ErrorBody = %s, want %s", got, want)
	}
}

func TestErrorTypeFollowsAnthropicsStatuses(t *testing.T) {
	for status, want := range map[int]string{
		400: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 403: "permission_error",
		404: "not_found_error", 405: "invalid_request_error", 413: "request_too_large", 429: "rate_limit_error",
		500: "api_error", 502: "api_error", 503: "overloaded_error", 504: "timeout_error", 529: "overloaded_error",
		501: "api_error",
	} {
		if got := ErrorType(status); got != want {
			t.Errorf("ErrorType(%d) = %q, want %q", status, got, want)
		}
	}
}

func TestSetRateLimitHeaders(t *testing.T) {
	reset := time.Date(2026, 3, 1, 12, 0, 30, 250e6, time.FixedZone("CET", 3600))
	cases := []struct {
		name string
		s    quota.Status
		want http.Header
	}{{
		name: "both limits, reset rounded up to the second, in UTC",
		s:    quota.Status{RequestsLimit: 60, RequestsRemaining: 59, TokensLimit: 1000, TokensRemaining: -5, Reset: reset},
		want: http.Header{
			"Anthropic-Ratelimit-Requests-Limit":     {"60"},
			"Anthropic-Ratelimit-Requests-Remaining": {"59"},
			"Anthropic-Ratelimit-Requests-Reset":     {"2026-03-01T11:00:31Z"},
			"Anthropic-Ratelimit-Tokens-Limit":       {"1000"},
			"Anthropic-Ratelimit-Tokens-Remaining":   {"0"},
			"Anthropic-Ratelimit-Tokens-Reset":       {"2026-03-01T11:00:31Z"},
		},
	}, {
		name: "unlimited requests get no headers",
		s:    quota.Status{TokensLimit: 1000, TokensRemaining: 10, Reset: reset.Truncate(time.Second)},
		want: http.Header{
			"Anthropic-Ratelimit-Tokens-Limit":     {"1000"},
			"Anthropic-Ratelimit-Tokens-Remaining": {"10"},
			"Anthropic-Ratelimit-Tokens-Reset":     {"2026-03-01T11:00:30Z"},
		},
	}, {
		name: "no limits, no headers",
		want: http.Header{},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			SetRateLimitHeaders(h, c.s)
			if !reflect.DeepEqual(h, c.want) {
				t.Fatalf("headers %v, want %v", h, c.want)
			}
		})
	}
}

func TestSetDenialHeaders(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	d := &quota.Denial{Limit: quota.LimitRequestsPerMinute, Max: 60, Used: 60, ResetAt: now.Add(1500 * time.Millisecond)}
	h := http.Header{}
	SetDenialHeaders(h, fmt.Errorf("wrapped: %w", d), quota.Status{}, record.Limits{RPM: 60}, now)
	want := http.Header{
		"Retry-After":                            {"2"},
		"Anthropic-Ratelimit-Requests-Limit":     {"60"},
		"Anthropic-Ratelimit-Requests-Remaining": {"0"},
		"Anthropic-Ratelimit-Requests-Reset":     {"2026-03-01T12:00:02Z"},
	}
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("headers %v, want %v", h, want)
	}
	h = http.Header{}
	SetDenialHeaders(h, fmt.Errorf("not a denial"), quota.Status{}, record.Limits{}, now)
	if len(h) != 0 {
		t.Fatalf("headers %v for an error that is no denial", h)
	}
}

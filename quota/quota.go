// Package quota owns rate limits and token budgets: the calendar windows
// (UTC minute, day, month), the reserve → settle protocol that keeps budgets
// whole under concurrency (Ledger, which stores implement, and Limiter,
// which the AI API calls), and the OpenAI-style rate-limit headers. Stores
// (store/sqlite, store/dynamodb) implement Ledger with atomic conditional
// updates; this package never talks to a database itself.
package quota

import (
	"context"
	"fmt"
	"time"

	"github.com/aigate/aigate/authz"
)

// Limit names, as reported in a Denial and in logs.
const (
	LimitRequestsPerMinute = "requests_per_minute"
	LimitTokensPerMinute   = "tokens_per_minute"
	LimitTokensPerDay      = "tokens_per_day"
	LimitTokensPerMonth    = "tokens_per_month"
)

// Windows are the calendar windows (UTC) a reservation counts against,
// identified by their start. Settlement and release adjust these windows,
// not the ones current when they happen.
type Windows struct {
	Minute time.Time
	Day    time.Time
	Month  time.Time
}

// WindowsAt returns the windows that contain t.
func WindowsAt(t time.Time) Windows {
	t = t.UTC()
	return Windows{
		Minute: t.Truncate(time.Minute),
		Day:    time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC),
		Month:  time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC),
	}
}

// MinuteEnd, DayEnd and MonthEnd are when each window resets.
func (w Windows) MinuteEnd() time.Time { return w.Minute.Add(time.Minute) }
func (w Windows) DayEnd() time.Time    { return w.Day.AddDate(0, 0, 1) }
func (w Windows) MonthEnd() time.Time  { return w.Month.AddDate(0, 1, 0) }

// Reservation holds an upper bound of a request's tokens (and the request
// itself) against a principal's limits until it is settled or released.
type Reservation struct {
	ID          string // the request id; unique, the idempotency key of Settle and Release
	PrincipalID string
	Tenant      string
	Model       string
	Tokens      int64 // the upper bound reserved: prompt bound + max output tokens
	Windows     Windows
	CreatedAt   time.Time
	// ExpiresAt: a reservation still pending then (its process died) is
	// released by ExpireReservations.
	ExpiresAt time.Time
}

// Status is the state of the minute window after a successful Reserve, for
// the x-ratelimit-* headers. A limit of 0 means unlimited. Remaining counts
// never go below zero.
//
// Alongside a *Denial, a store may also return the minute window's Status as
// it stands (nothing reserved), so that a 429 carries exact headers; a store
// that cannot tell returns the zero Status, and callers fall back to the
// Denial.
type Status struct {
	RequestsLimit, RequestsRemaining int64
	TokensLimit, TokensRemaining     int64
	Reset                            time.Time // end of the minute window
}

// Denial is the error Reserve returns when a limit would be exceeded.
// Nothing was reserved.
type Denial struct {
	Limit   string    // one of the Limit* names
	Max     int64     // the configured limit
	Used    int64     // already used (settled and reserved) in the window
	ResetAt time.Time // when the window ends
}

func (d *Denial) Error() string {
	return fmt.Sprintf("quota: %s limit %d reached (%d used), resets at %s", d.Limit, d.Max, d.Used, d.ResetAt.UTC().Format(time.RFC3339))
}

// Budget reports whether the denial is an exhausted token budget (day or
// month: OpenAI's insufficient_quota) rather than a rate limit.
func (d *Denial) Budget() bool {
	return d.Limit == LimitTokensPerDay || d.Limit == LimitTokensPerMonth
}

// Settlement is the real usage of a reserved request.
type Settlement struct {
	ReservationID    string
	PromptTokens     int64
	CompletionTokens int64
	At               time.Time
}

// Entry is one settled request in the usage ledger.
type Entry struct {
	RequestID        string    `json:"request_id"`
	PrincipalID      string    `json:"principal_id"`
	Tenant           string    `json:"tenant,omitempty"`
	Model            string    `json:"model"`
	PromptTokens     int64     `json:"prompt_tokens"`
	CompletionTokens int64     `json:"completion_tokens"`
	ReservedTokens   int64     `json:"reserved_tokens"`
	At               time.Time `json:"at"`
}

// Query filters the ledger. Zero fields do not filter.
type Query struct {
	PrincipalID string
	Tenant      string
	Since       time.Time
}

// Ledger is what a store provides for quotas. Every method is atomic on its
// own: concurrent Reserves never together exceed a limit.
type Ledger interface {
	// Reserve counts one request and r.Tokens tokens in r.Windows if, for
	// every non-zero limit, the used amount plus this request stays within
	// it; otherwise it changes nothing and returns a *Denial (possibly with
	// the current Status, see Status). When several limits would be
	// exceeded, which one the Denial names is the store's choice.
	Reserve(ctx context.Context, r Reservation, limits authz.Limits) (Status, error)
	// Settle replaces the reserved tokens with the real ones in the
	// reservation's windows, removes the reservation and appends a ledger
	// entry, all at once. A second Settle (or one after Release or expiry)
	// returns an error wrapping authz.ErrNotFound and changes nothing. The
	// entry's At is s.At; its other fields come from the reservation.
	Settle(ctx context.Context, s Settlement) (Entry, error)
	// Release gives back the reserved tokens (the request still counts
	// towards the request rate) and removes the reservation; used when the
	// upstream failed. authz.ErrNotFound if it is not pending.
	Release(ctx context.Context, id string) error
	// ExpireReservations releases every reservation whose ExpiresAt is
	// before now, and says how many.
	ExpireReservations(ctx context.Context, now time.Time) (int, error)
	// Usage returns ledger entries matching q, oldest first.
	Usage(ctx context.Context, q Query) ([]Entry, error)
}

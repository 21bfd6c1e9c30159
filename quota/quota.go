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

	"github.com/aigate/aigate/pricing"
	"github.com/aigate/aigate/record"
)

// Limit names, as reported in a Denial and in logs.
const (
	LimitRequestsPerMinute = "requests_per_minute"
	LimitTokensPerMinute   = "tokens_per_minute"
	LimitTokensPerDay      = "tokens_per_day"
	LimitTokensPerMonth    = "tokens_per_month"
	LimitUSDPerDay         = "usd_per_day"   // micro-dollars
	LimitUSDPerMonth       = "usd_per_month" // micro-dollars
)

// TenantWindowsPrefix starts the principal id under which a tenant's
// windows are counted ("tenant:NAME"): principal ids of callers start with
// "key:" or "jwt:", so a tenant never shares windows with one.
const TenantWindowsPrefix = "tenant:"

// TenantWindowsID is the id a tenant's windows are counted under.
func TenantWindowsID(tenant string) string { return TenantWindowsPrefix + tenant }

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
	// Protocol is the inbound protocol of the request (see
	// Request.Protocol); empty for reservations made before it was kept.
	Protocol string
	Tokens   int64 // the upper bound reserved: prompt bound + max output tokens
	// CostMicros is the upper bound of the request's cost reserved, in
	// micro-dollars (0 for a model without a price).
	CostMicros int64
	// TenantLimits, when not nil, are the limits of the request's Tenant:
	// the request also counts in the tenant's windows (TenantWindowsID),
	// and must fit them. Nil: the tenant is not defined, nothing is
	// counted for it. The store keeps whether it was set.
	TenantLimits *record.Limits
	// Price is what the request is settled at, chosen at Reserve so that
	// the bound and the cost use one price; Unpriced says the model had
	// none (metered at $0). The store does not keep them: Limiter.Settle
	// reads them from the caller's copy.
	Price     pricing.Price
	Unpriced  bool
	Windows   Windows
	CreatedAt time.Time
	// ExpiresAt is when ExpireReservations may release the reservation if
	// it is still pending then: its process died, or its request outlived
	// it. A request in progress moves it later (Ledger.Extend, through
	// Limiter.KeepAlive), so only the first case should happen; a request
	// that lost its reservation anyway is still settled, late (see
	// Ledger.Settle). Limiter.Extend keeps the caller's copy up to date.
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
	// Tenant names the tenant whose limit it is; empty for the
	// principal's own.
	Tenant  string
	Limit   string    // one of the Limit* names
	Max     int64     // the configured limit
	Used    int64     // already used (settled and reserved) in the window
	ResetAt time.Time // when the window ends
}

func (d *Denial) Error() string {
	who := ""
	if d.Tenant != "" {
		who = "tenant " + d.Tenant + " "
	}
	if d.USD() {
		return fmt.Sprintf("quota: %s%s limit $%s reached ($%s used), resets at %s", who, d.Limit,
			pricing.Micros(d.Max), pricing.Micros(d.Used), d.ResetAt.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("quota: %s%s limit %d reached (%d used), resets at %s", who, d.Limit, d.Max, d.Used, d.ResetAt.UTC().Format(time.RFC3339))
}

// Budget reports whether the denial is an exhausted budget, of tokens or
// dollars (day or month: OpenAI's insufficient_quota) rather than a rate
// limit.
func (d *Denial) Budget() bool {
	return d.Limit == LimitTokensPerDay || d.Limit == LimitTokensPerMonth || d.USD()
}

// USD reports whether the denial is of a USD budget: Max and Used are
// micro-dollars.
func (d *Denial) USD() bool { return d.Limit == LimitUSDPerDay || d.Limit == LimitUSDPerMonth }

// Settlement is the real usage of a reserved request.
type Settlement struct {
	// Reservation is the reservation settled, as Reserve made it; its ID
	// says which. While it is pending the store goes by its own copy; once
	// it is not (expired or released), the store records the usage from
	// this one, so every field must be as Reserve made it (Limiter.Settle
	// passes it so). A Reservation with no PrincipalID can only settle a
	// pending reservation.
	Reservation      Reservation
	PromptTokens     int64
	CompletionTokens int64
	// CachedTokens and CacheWriteTokens are the parts of PromptTokens read
	// from and written to the provider's prompt cache.
	CachedTokens, CacheWriteTokens int64
	// CostMicros is the request's cost, micro-dollars, at Price; the
	// windows' dollars move from the reserved bound to it.
	CostMicros int64
	Price      pricing.Price
	// Unpriced says the model had no price: metered at $0.
	Unpriced bool
	// At is when the request was settled, not before Reservation.CreatedAt
	// (a store looks for an earlier settlement of the same request from
	// then on; Limiter.Settle ensures it).
	At time.Time
}

// Entry is one settled request in the usage ledger.
type Entry struct {
	RequestID   string `json:"request_id"`
	PrincipalID string `json:"principal_id"`
	Tenant      string `json:"tenant,omitempty"`
	Model       string `json:"model"`
	// Protocol is the reservation's (see Request.Protocol): empty for
	// requests settled before it was recorded, all chat completions.
	Protocol         string `json:"protocol,omitempty"`
	PromptTokens     int64  `json:"prompt_tokens"`
	CompletionTokens int64  `json:"completion_tokens"`
	ReservedTokens   int64  `json:"reserved_tokens"`
	// CachedTokens and CacheWriteTokens are parts of PromptTokens.
	CachedTokens     int64 `json:"cached_tokens,omitempty"`
	CacheWriteTokens int64 `json:"cache_write_tokens,omitempty"`
	// CostMicros is what the request cost, micro-dollars, at Price, the
	// price it was settled with (micro-dollars per 1M tokens): a later
	// price change never rewrites it.
	// Unpriced: the model had no price (CostMicros 0).
	CostMicros int64         `json:"cost_micros"`
	Price      pricing.Price `json:"price"`
	Unpriced   bool          `json:"unpriced,omitempty"`
	At         time.Time     `json:"at"`
	// Late says that Settle found the reservation no longer pending
	// (expired or released, its tokens already given back) and recorded
	// the usage all the same, counting all of it in the windows: worth a
	// log line, since the request ran unreserved for a while. Only Settle
	// sets it; the ledger does not keep it, so Usage never does.
	Late bool `json:"-"`
}

// Query filters the ledger. Zero fields do not filter.
type Query struct {
	PrincipalID string
	Tenant      string
	Since       time.Time
}

// Ledger is what a store provides for quotas: the reservations a Limiter
// takes and settles, and the usage it recorded. Every method is atomic on
// its own: concurrent Reserves never together exceed a limit.
type Ledger interface {
	Reservations
	// Usage returns ledger entries matching q, oldest first.
	Usage(ctx context.Context, q Query) ([]Entry, error)
}

// Reservations is the part of a Ledger that admits and accounts requests:
// all a Limiter (and so the AI API) uses. Reading usage back is another
// consumer's business (the CLI, the console).
type Reservations interface {
	// Reserve counts one request, r.Tokens tokens and r.CostMicros
	// dollars in r.Windows, and in the tenant's windows too when
	// r.TenantLimits is set, if, for every non-zero limit (limits for the
	// principal's, *r.TenantLimits for the tenant's), the used amount plus
	// this request stays within it; otherwise it changes nothing and returns a *Denial (possibly with
	// the current Status, see Status). When several limits would be
	// exceeded, which one the Denial names is the store's choice.
	Reserve(ctx context.Context, r Reservation, limits record.Limits) (Status, error)
	// Settle records a request's real usage exactly once per request id,
	// all at once:
	//
	//   - Pending reservation: the real tokens and s.CostMicros replace
	//     the reserved ones in the reservation's windows (the tenant's too
	//     when it counted there), the reservation is removed and a
	//     ledger entry appended.
	//   - No longer pending (released, or expired and released by
	//     ExpireReservations, which gave the reserved tokens back): the
	//     entry is appended all the same, from s.Reservation, and all the
	//     real tokens are added to its windows; the entry says Late. The
	//     request itself stays counted once, by Reserve, in the request
	//     rate, as after any release. Usage is never lost to a lapsed
	//     reservation.
	//
	// A Settle of a request already settled (early or late), or of one
	// that is not pending when s.Reservation has no PrincipalID, returns
	// an error wrapping record.ErrNotFound and changes nothing. The entry's
	// At is s.At; its other fields come from the reservation.
	Settle(ctx context.Context, s Settlement) (Entry, error)
	// Extend moves a pending reservation's ExpiresAt to expiresAt if that
	// is later (never earlier), so that a request still in progress keeps
	// its reservation. A reservation past its expiry that ExpireReservations
	// has not taken yet is still pending, and extended. record.ErrNotFound
	// if it is not pending (settled, released, expired and released).
	// Atomic against ExpireReservations: either the expiry is extended, and
	// an ExpireReservations before the new expiry does not take it, or the
	// reservation was already gone.
	Extend(ctx context.Context, id string, expiresAt time.Time) error
	// Release gives back the reserved tokens (the request still counts
	// towards the request rate) and removes the reservation; used when the
	// upstream failed. record.ErrNotFound if it is not pending.
	Release(ctx context.Context, id string) error
	// ExpireReservations releases every pending reservation whose ExpiresAt
	// is before now, and says how many.
	ExpireReservations(ctx context.Context, now time.Time) (int, error)
}

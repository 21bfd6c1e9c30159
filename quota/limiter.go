package quota

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aigate/aigate/pricing"
	"github.com/aigate/aigate/record"
)

// DefaultReservationTTL is how long a reservation stays pending when
// Limiter.TTL is zero, and how much longer each Extend keeps it. A request
// that may run longer (a stream) calls KeepAlive as it goes; one whose
// reservation lapses anyway is settled late: its usage is recorded, but
// meanwhile its reserved tokens were free for other requests.
const DefaultReservationTTL = 15 * time.Minute

// Request is what one API call asks of a principal's limits.
type Request struct {
	// ID identifies the request: unique, it becomes the reservation id.
	ID          string
	PrincipalID string
	Tenant      string
	Model       string
	// Protocol is the inbound protocol the request came in by ("chat",
	// "embeddings", "responses", "messages"), kept on the reservation and
	// its ledger entry so that usage can be told apart by API.
	Protocol string
	// Tokens is the upper bound of the request's tokens (prompt and
	// output); what is reserved until the request is settled.
	Tokens int64
	// Limits are the principal's, as the authorizer granted them.
	Limits record.Limits
	// TenantLimits are the limits of Tenant when it is defined (nil: it is
	// not, and nothing is counted for it).
	TenantLimits *record.Limits
	// Price is the model's price, Unpriced when it has none; CostMicros is
	// the upper bound of the request's cost at it, reserved against the
	// USD budgets (see pricing.Price.Bound).
	Price      pricing.Price
	Unpriced   bool
	CostMicros int64
}

// TokenUsage is what a request used, as the provider reported it: Prompt
// includes Cached (cache reads) and CacheWrite.
type TokenUsage struct {
	Prompt, Completion, Cached, CacheWrite int64
}

// Limiter turns requests into reservations against a Ledger and settles
// them. It holds no state of its own: every decision is the Ledger's atomic
// update, so any number of Limiters (processes, Lambdas) may share a store.
type Limiter struct {
	// Ledger stores the windows and reservations, and appends settled
	// usage. Required.
	Ledger Reservations
	// TTL is how long a reservation may stay pending, from Reserve or
	// the last Extend, before ExpireReservations releases it as left
	// behind by a dead process. Zero: DefaultReservationTTL.
	TTL time.Duration
	// Now is the clock. Nil: time.Now.
	Now func() time.Time
}

func (l *Limiter) now() time.Time {
	if l.Now != nil {
		return l.Now().UTC()
	}
	return time.Now().UTC()
}

func (l *Limiter) ttl() time.Duration {
	if l.TTL > 0 {
		return l.TTL
	}
	return DefaultReservationTTL
}

// Reserve reserves req.Tokens and one request in the windows of now. When a
// limit would be exceeded it returns an error wrapping a *Denial, together
// with the Status the store reported for the denial (possibly zero; see
// DenialStatus).
func (l *Limiter) Reserve(ctx context.Context, req Request) (Reservation, Status, error) {
	if req.ID == "" || req.PrincipalID == "" {
		return Reservation{}, Status{}, errors.New("quota: reserve: request id and principal id are required")
	}
	if req.Tokens < 0 || req.CostMicros < 0 {
		return Reservation{}, Status{}, fmt.Errorf("quota: reserve %s: negative bound", req.ID)
	}
	now := l.now()
	r := Reservation{
		ID:          req.ID,
		PrincipalID: req.PrincipalID,
		Tenant:      req.Tenant,
		Model:       req.Model,
		Protocol:    req.Protocol,
		Tokens:      req.Tokens,
		CostMicros:  req.CostMicros,
		Price:       req.Price,
		Unpriced:    req.Unpriced,
		Windows:     WindowsAt(now),
		CreatedAt:   now,
		ExpiresAt:   now.Add(l.ttl()),
	}
	if req.TenantLimits != nil && req.Tenant != "" {
		tl := *req.TenantLimits
		r.TenantLimits = &tl
	}
	st, err := l.Ledger.Reserve(ctx, r, req.Limits)
	if err != nil {
		var d *Denial
		if errors.As(err, &d) {
			return Reservation{}, st, err
		}
		return Reservation{}, Status{}, fmt.Errorf("quota: reserve %s: %w", req.ID, err)
	}
	return r, st, nil
}

// Settle records the real usage of the reserved request, at now (or at
// r.CreatedAt if the clock went back since: a settlement is never earlier
// than its reservation). r must be the Reservation as Reserve returned it:
// if it lapsed meanwhile, the store records the usage from it, and the
// entry says Late.
func (l *Limiter) Settle(ctx context.Context, r Reservation, promptTokens, completionTokens int64) (Entry, error) {
	return l.SettleUsage(ctx, r, TokenUsage{Prompt: promptTokens, Completion: completionTokens})
}

// SettleUsage is Settle with the cache reads and writes of the usage,
// priced at r.Price: the cost settled is the actual one, each part at its
// own price (pricing.Price.Cost).
func (l *Limiter) SettleUsage(ctx context.Context, r Reservation, u TokenUsage) (Entry, error) {
	if u.Prompt < 0 || u.Completion < 0 || u.Cached < 0 || u.CacheWrite < 0 {
		return Entry{}, fmt.Errorf("quota: settle %s: negative usage", r.ID)
	}
	var cost pricing.Micros
	if !r.Unpriced {
		var err error
		cost, err = r.Price.Cost(pricing.UsageOf(u.Prompt, u.Completion, u.Cached, u.CacheWrite))
		if err != nil {
			return Entry{}, fmt.Errorf("quota: settle %s: %w", r.ID, err)
		}
	}
	e, err := l.Ledger.Settle(ctx, Settlement{
		Reservation:      r,
		PromptTokens:     u.Prompt,
		CompletionTokens: u.Completion,
		CachedTokens:     u.Cached,
		CacheWriteTokens: u.CacheWrite,
		CostMicros:       int64(cost),
		Price:            r.Price,
		Unpriced:         r.Unpriced,
		At:               laterOf(l.now(), r.CreatedAt),
	})
	if err != nil {
		return Entry{}, fmt.Errorf("quota: settle %s: %w", r.ID, err)
	}
	return e, nil
}

func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Extend keeps r pending for another TTL from now and, once the store has
// done so, moves r.ExpiresAt accordingly. An error wrapping
// record.ErrNotFound means r is no longer pending (it expired and was
// released): the request may go on and be settled late.
func (l *Limiter) Extend(ctx context.Context, r *Reservation) error {
	expiresAt := l.now().Add(l.ttl())
	if err := l.Ledger.Extend(ctx, r.ID, expiresAt); err != nil {
		return fmt.Errorf("quota: extend %s: %w", r.ID, err)
	}
	if expiresAt.After(r.ExpiresAt) {
		r.ExpiresAt = expiresAt
	}
	return nil
}

// ExtendDue reports whether r has less than half the TTL left: the rule
// KeepAlive follows, for a caller that extends on its own schedule (in
// the background, say). It costs a clock read.
func (l *Limiter) ExtendDue(r Reservation) bool {
	return r.ExpiresAt.Sub(l.now()) < l.ttl()/2
}

// KeepAlive extends r when ExtendDue says so, and otherwise does nothing.
// A request in progress (a stream) calls it as it goes, for every chunk if
// it likes: it writes to the store at most once per TTL/2, and keeps
// the reservation pending as long as it is called more often than that.
func (l *Limiter) KeepAlive(ctx context.Context, r *Reservation) error {
	if !l.ExtendDue(*r) {
		return nil
	}
	return l.Extend(ctx, r)
}

// Release gives the reserved tokens back: the request produced nothing.
func (l *Limiter) Release(ctx context.Context, r Reservation) error {
	if err := l.Ledger.Release(ctx, r.ID); err != nil {
		return fmt.Errorf("quota: release %s: %w", r.ID, err)
	}
	return nil
}

// ExpireReservations releases the reservations left pending past their
// expiry (by a process that died mid-request) and says how many.
func (l *Limiter) ExpireReservations(ctx context.Context) (int, error) {
	n, err := l.Ledger.ExpireReservations(ctx, l.now())
	if err != nil {
		return n, fmt.Errorf("quota: expire reservations: %w", err)
	}
	return n, nil
}

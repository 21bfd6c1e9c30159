package dynamodb

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/aigate/aigate/pricing"
	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
)

// Reservation states (reservations.st).
const (
	statePending  = "pending"  // reserved; Settle, Release or expiry may take it
	stateSettling = "settling" // Settle committed; the ledger row, counters and delete may still be due
)

// window is one counter a reservation counts against.
type window struct {
	kind       string // "minute", "day", "month": the start of the item's pk
	start, end time.Time
	layout     string        // how start appears in the pk
	keep       time.Duration // how long after end the item stays (its TTL)
	// requestLimit and tokenLimit pick the limits that apply to this window.
	requestLimit, tokenLimit, usdLimit func(record.Limits) int64
	requestName, tokenName, usdName    string
}

func none(record.Limits) int64 { return 0 }

// windowsOf lists the three counters of w: minute, day, month, the order in
// which a Denial's limit is chosen when several would be exceeded.
//
// Items are kept past their window so that a settlement arriving after the
// window ended (reservations live up to quota.DefaultReservationTTL) still
// finds them, and for inspection; the TTL then deletes them.
func windowsOf(w quota.Windows) [3]window {
	return [3]window{
		{kind: "minute", start: w.Minute, end: w.MinuteEnd(), layout: "2006-01-02T15:04Z", keep: time.Hour,
			requestLimit: func(l record.Limits) int64 { return l.RPM }, requestName: quota.LimitRequestsPerMinute,
			tokenLimit: func(l record.Limits) int64 { return l.TPM }, tokenName: quota.LimitTokensPerMinute,
			usdLimit: none},
		{kind: "day", start: w.Day, end: w.DayEnd(), layout: "2006-01-02", keep: 7 * 24 * time.Hour,
			requestLimit: none,
			tokenLimit:   func(l record.Limits) int64 { return l.TokensPerDay }, tokenName: quota.LimitTokensPerDay,
			usdLimit: func(l record.Limits) int64 { return l.USDPerDay }, usdName: quota.LimitUSDPerDay},
		{kind: "month", start: w.Month, end: w.MonthEnd(), layout: "2006-01", keep: 32 * 24 * time.Hour,
			requestLimit: none,
			tokenLimit:   func(l record.Limits) int64 { return l.TokensPerMonth }, tokenName: quota.LimitTokensPerMonth,
			usdLimit: func(l record.Limits) int64 { return l.USDPerMonth }, usdName: quota.LimitUSDPerMonth},
	}
}

// key is the counter's partition key: window kind and start first (fixed
// format), the principal last, so that no principal id can collide with
// another window's key.
func (w window) key(principal string) types.AttributeValue {
	return attrS(w.kind + "#" + w.start.UTC().Format(w.layout) + "#" + principal)
}

func (w window) ttl() types.AttributeValue { return attrN(w.end.Add(w.keep).Unix()) }

// Reserve counts one request and r.Tokens tokens in r's minute, day and
// month windows, each with one conditional UpdateItem (ADD, on the
// condition that the limit holds; the three in parallel, to take one round
// trip), then writes the reservation item. The crash analysis:
//
//   - A denial or an error at any window gives back what the other windows
//     counted (ADD of the negative), so a refused Reserve changes nothing;
//     meanwhile a concurrent Reserve may see those windows fuller than they
//     end up: it can be refused, never let through beyond a limit.
//   - A crash after some counters and before the reservation item leaves
//     those counters too high by this request: budget held back, never
//     overspent, and the minute window's excess ends with the minute.
//   - The reservation item is written last, on the condition that its id is
//     new; a duplicate id gives everything back and fails with ErrExists.
//
// The price of counting in parallel: a request refused by its rate limit
// also costs two writes to the day and month items and two to undo them.
func (s *Store) Reserve(ctx context.Context, r quota.Reservation, l record.Limits) (quota.Status, error) {
	if err := ctx.Err(); err != nil {
		return quota.Status{}, fmt.Errorf("dynamodb: reserve %q: %w", r.ID, err)
	}
	if r.ID == "" || r.PrincipalID == "" {
		return quota.Status{}, errors.New("dynamodb: reserve: reservation id and principal id are required")
	}
	if r.Tokens < 0 {
		return quota.Status{}, fmt.Errorf("dynamodb: reserve %q: negative tokens %d", r.ID, r.Tokens)
	}
	res, err := reservationItem(r)
	if err != nil {
		return quota.Status{}, fmt.Errorf("dynamodb: reserve %q: %w", r.ID, err)
	}
	ws := windowsOf(r.Windows)
	// The counters: the principal's three windows, then its tenant's when
	// the tenant is defined, all in parallel.
	type counter struct {
		w      window
		id     string
		limits record.Limits
		tenant string
	}
	var cs []counter
	for _, w := range ws {
		cs = append(cs, counter{w: w, id: r.PrincipalID, limits: l})
	}
	if countsTenant(r) {
		for _, w := range ws {
			cs = append(cs, counter{w: w, id: quota.TenantWindowsID(r.Tenant), limits: *r.TenantLimits, tenant: r.Tenant})
		}
	}
	counted := make([]struct {
		c      counters
		denial *quota.Denial
		err    error
	}, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() {
			counted[i].c, counted[i].denial, counted[i].err = s.count(ctx, c.w, c.id, r.Tokens, r.CostMicros, c.limits)
			if d := counted[i].denial; d != nil {
				d.Tenant = c.tenant
			}
		})
	}
	wg.Wait()
	var (
		done   []counter // counted: to give back on failure
		denial *quota.Denial
		errs   []error
	)
	for i, c := range counted {
		switch {
		case c.err != nil:
			errs = append(errs, c.err)
		case c.denial != nil:
			denial = cmp.Or(denial, c.denial) // the first in principal, tenant; minute, day, month order
		default:
			done = append(done, cs[i])
		}
	}
	giveBack := func(done []counter) error {
		var errs []error
		for _, c := range done {
			if err := s.uncount(ctx, []window{c.w}, c.id, 1, r.Tokens, r.CostMicros); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	minute := counted[0].c
	if denial != nil || len(errs) > 0 {
		if cerr := giveBack(done); cerr != nil {
			errs = append(errs, fmt.Errorf("giving back what was counted: %w", cerr))
		}
		err := errors.Join(errs...)
		if denial == nil {
			return quota.Status{}, fmt.Errorf("dynamodb: reserve %q: %w", r.ID, err)
		}
		// The minute window as it stands, without this request.
		if counted[0].err == nil && counted[0].denial == nil {
			minute = counters{minute.requests - 1, minute.tokens - r.Tokens, minute.usd - r.CostMicros}
		}
		st := quota.Status{}
		if counted[0].err == nil {
			st = minuteStatus(l, minute, ws[0].end)
		}
		if err != nil {
			return st, errors.Join(denial, fmt.Errorf("dynamodb: reserve %q: %w", r.ID, err))
		}
		return st, denial
	}
	if err := s.putReservation(ctx, r.ID, res); err != nil {
		if errors.Is(err, record.ErrExists) || errors.Is(err, errNotWritten) {
			if cerr := giveBack(cs); cerr != nil {
				err = errors.Join(err, fmt.Errorf("giving back what was counted: %w", cerr))
			}
		}
		return quota.Status{}, fmt.Errorf("dynamodb: reserve %q: %w", r.ID, err)
	}
	return minuteStatus(l, minute, ws[0].end), nil
}

// countsTenant reports whether r counts in its tenant's windows too.
func countsTenant(r quota.Reservation) bool { return r.TenantLimits != nil && r.Tenant != "" }

// errNotWritten says that a write certainly did not happen.
var errNotWritten = errors.New("not written")

// putReservation writes the reservation item, the last step of Reserve,
// once the counters hold it. It runs to the end even if ctx is canceled
// (a pending reservation nobody settles expires; counters given back for a
// reservation that was in fact written would be given back twice). Its
// nonce lets the SDK's retry of a put that was applied succeed; when the
// outcome is still unknown, a read decides. It returns an error wrapping
// ErrExists for a duplicate id and errNotWritten when the item is surely
// absent; any other error leaves the outcome unknown, and the caller then
// keeps the counters (held back, never overspent).
func (s *Store) putReservation(ctx context.Context, id string, res item) error {
	ctx, cancel := afterCommit(ctx)
	defer cancel()
	nonce, err := s.putOnce(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.t.reservations),
		Item:                res,
		ConditionExpression: aws.String("attribute_not_exists(id)"),
	}, "")
	if err == nil {
		return nil
	}
	if conditionFailed(err) {
		return fmt.Errorf("reservation id in use: %w", record.ErrExists)
	}
	out, rerr := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.t.reservations), Key: item{"id": attrS(id)}, ConsistentRead: aws.Bool(true),
	})
	switch {
	case rerr != nil:
		return fmt.Errorf("write reservation: %w (outcome unknown: %v)", err, rerr)
	case len(out.Item) == 0:
		return fmt.Errorf("write reservation: %w: %w", errNotWritten, err)
	case getS(out.Item, nonceAttr) == nonce:
		return nil // written after all
	default:
		return fmt.Errorf("reservation id in use: %w", record.ErrExists)
	}
}

// counters are a window item's totals.
type counters struct{ requests, tokens, usd int64 }

func readCounters(it item) (counters, error) {
	d := decoder{it: it}
	c := counters{requests: d.n("requests"), tokens: d.n("tokens"), usd: d.n("usd")}
	return c, d.err
}

func minuteStatus(l record.Limits, c counters, reset time.Time) quota.Status {
	st := quota.Status{RequestsLimit: l.RPM, TokensLimit: l.TPM, Reset: reset}
	if l.RPM > 0 {
		st.RequestsRemaining = max(0, l.RPM-c.requests)
	}
	if l.TPM > 0 {
		st.TokensRemaining = max(0, l.TPM-c.tokens)
	}
	return st
}

// count adds one request and n tokens to w's item if w's limits hold after
// it, and returns the item's totals: after the addition, or as they stand
// with a denial.
func (s *Store) count(ctx context.Context, w window, principal string, n, usd int64, l record.Limits) (counters, *quota.Denial, error) {
	reqMax, tokMax, usdMax := w.requestLimit(l), w.tokenLimit(l), w.usdLimit(l)
	deny := func(c counters) *quota.Denial {
		switch {
		case reqMax > 0 && c.requests+1 > reqMax:
			return &quota.Denial{Limit: w.requestName, Max: reqMax, Used: c.requests, ResetAt: w.end}
		case tokMax > 0 && c.tokens+n > tokMax:
			return &quota.Denial{Limit: w.tokenName, Max: tokMax, Used: c.tokens, ResetAt: w.end}
		case usdMax > 0 && c.usd+usd > usdMax:
			return &quota.Denial{Limit: w.usdName, Max: usdMax, Used: c.usd, ResetAt: w.end}
		}
		return nil
	}
	key := item{"pk": w.key(principal)}
	var cond []string
	values := item{":one": attrN(1), ":n": attrN(n), ":u": attrN(usd), ":ttl": w.ttl(), ":p": attrS(principal)}
	if reqMax > 0 {
		cond = append(cond, "(attribute_not_exists(#r) OR #r < :rmax)")
		values[":rmax"] = attrN(reqMax)
	}
	if tokMax > 0 {
		// tokens + n <= max, written so that no addition can overflow.
		cond = append(cond, "(attribute_not_exists(#t) OR #t <= :troom)")
		values[":troom"] = attrN(tokMax - n)
	}
	if usdMax > 0 {
		// usd + this request's bound <= max, as for tokens.
		cond = append(cond, "(attribute_not_exists(#u) OR #u <= :uroom)")
		values[":uroom"] = attrN(usdMax - usd)
	}
	in := &dynamodb.UpdateItemInput{
		TableName:                           aws.String(s.t.usage),
		Key:                                 key,
		UpdateExpression:                    aws.String("ADD #r :one, #t :n, #u :u SET #ttl = :ttl, #p = :p"),
		ExpressionAttributeNames:            map[string]string{"#r": "requests", "#t": "tokens", "#u": "usd", "#ttl": usageTTLAttribute, "#p": "principal_id"},
		ExpressionAttributeValues:           values,
		ReturnValues:                        types.ReturnValueUpdatedNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	if len(cond) > 0 {
		in.ConditionExpression = aws.String(strings.Join(cond, " AND "))
	}
	if tokMax > 0 && n > tokMax {
		// No amount of waiting makes room: refuse without writing.
		cur, err := s.readCounters(ctx, key, nil)
		if err != nil {
			return cur, nil, err
		}
		return cur, &quota.Denial{Limit: w.tokenName, Max: tokMax, Used: cur.tokens, ResetAt: w.end}, nil
	}
	if usdMax > 0 && usd > usdMax {
		cur, err := s.readCounters(ctx, key, nil)
		if err != nil {
			return cur, nil, err
		}
		return cur, &quota.Denial{Limit: w.usdName, Max: usdMax, Used: cur.usd, ResetAt: w.end}, nil
	}
	var c counters
	// A failed condition is re-read to name the limit; if the re-read shows
	// room (a settlement gave tokens back in between), try again, a few
	// times: refusing then would be correct too, merely less generous.
	for range 3 {
		out, err := s.client.UpdateItem(ctx, in)
		if err == nil {
			c, err = readCounters(out.Attributes)
			return c, nil, err
		}
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			return c, nil, fmt.Errorf("count %s: %w", w.kind, err)
		}
		// DynamoDB returns the item with the failure; dynalite does not.
		if c, err = s.readCounters(ctx, key, ccf.Item); err != nil {
			return c, nil, err
		}
		if d := deny(c); d != nil {
			return c, d, nil
		}
	}
	// Lost three races in a row, each time to a writer that then gave room
	// back: refuse, naming a limit that applies (the condition failed, so
	// one is set).
	switch {
	case reqMax > 0:
		return c, &quota.Denial{Limit: w.requestName, Max: reqMax, Used: c.requests, ResetAt: w.end}, nil
	case tokMax > 0:
		return c, &quota.Denial{Limit: w.tokenName, Max: tokMax, Used: c.tokens, ResetAt: w.end}, nil
	}
	return c, &quota.Denial{Limit: w.usdName, Max: usdMax, Used: c.usd, ResetAt: w.end}, nil
}

// readCounters returns the totals of the item, taken from it when the
// failed condition returned it, else read (strongly consistent).
func (s *Store) readCounters(ctx context.Context, key, it item) (counters, error) {
	if it == nil {
		out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(s.t.usage), Key: key, ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return counters{}, fmt.Errorf("read counters: %w", err)
		}
		it = out.Item
	}
	return readCounters(it)
}

// uncount subtracts requests and tokens from the windows, as compensation
// or release. It runs to the end even when ctx is canceled: stopping half
// way would leave the counters too high for no reason.
func (s *Store) uncount(ctx context.Context, ws []window, principal string, requests, tokens, usd int64) error {
	return s.adjust(ctx, ws, principal, -requests, -tokens, -usd)
}

// adjust adds (possibly negative) requests and tokens to the windows,
// unconditionally. An item already removed by its TTL is created again,
// with its TTL, so it goes away too.
func (s *Store) adjust(ctx context.Context, ws []window, principal string, requests, tokens, usd int64) error {
	if requests == 0 && tokens == 0 && usd == 0 {
		return nil
	}
	ctx, cancel := afterCommit(ctx)
	defer cancel()
	// ADD is not idempotent. The SDK retries a request whose answer was
	// lost, which may apply it twice: harmless when adding (held back), but
	// a subtraction applied twice would give back budget never used. So a
	// subtraction is sent once, and again only after an answer proving it
	// was not applied (throttling); otherwise the counters may stay high.
	var opts []func(*dynamodb.Options)
	if requests < 0 || tokens < 0 || usd < 0 {
		opts = append(opts, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	}
	errs := make([]error, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Go(func() {
			in := &dynamodb.UpdateItemInput{
				TableName:                 aws.String(s.t.usage),
				Key:                       item{"pk": w.key(principal)},
				UpdateExpression:          aws.String("ADD #r :r, #t :t, #u :u SET #ttl = if_not_exists(#ttl, :ttl)"),
				ExpressionAttributeNames:  map[string]string{"#r": "requests", "#t": "tokens", "#u": "usd", "#ttl": usageTTLAttribute},
				ExpressionAttributeValues: item{":r": attrN(requests), ":t": attrN(tokens), ":u": attrN(usd), ":ttl": w.ttl()},
			}
			delay := 25 * time.Millisecond
			for attempt := 0; ; attempt++ {
				_, err := s.client.UpdateItem(ctx, in, opts...)
				if err == nil || !throttled(err) || attempt == 4 {
					if err != nil {
						errs[i] = fmt.Errorf("%s window: %w", w.kind, err)
					}
					return
				}
				select {
				case <-ctx.Done():
					errs[i] = fmt.Errorf("%s window: %w", w.kind, err)
					return
				case <-time.After(delay):
				}
				delay *= 2
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// throttled reports whether DynamoDB refused a request for capacity: it was
// certainly not applied.
func throttled(err error) bool {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode() {
	case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded":
		return true
	}
	return false
}

// Settle records the real usage of a pending reservation:
//
//  1. Commit: one conditional UpdateItem moves the reservation from
//     pending to settling and stores the settlement in it. A second Settle,
//     or one after Release or expiry, fails here with ErrNotFound.
//  2. Put the ledger row, keyed by (principal, time and request id), on
//     the condition that it is new: written once however often step 2 runs.
//  3. Delete the reservation, on the condition that it is still settling:
//     whoever deletes it owns step 4, so step 4 runs at most once.
//  4. Adjust the three windows by real minus reserved tokens.
//
// A crash after step 1 leaves a settling reservation that carries
// everything needed: ExpireReservations finishes it (steps 2 to 4) once its
// expiry passes, so the ledger row is never lost. A crash between steps 3
// and 4 leaves the windows counting the reserved tokens instead of the
// real ones: more, since the reservation is the upper bound — budget held
// back, never overspent.
//
// A reservation no longer pending (expired or released: its item is gone)
// is settled late, with the same steps after another commit: step 1 puts
// the reservation item again, from st.Reservation, already settling and
// marked late, on the condition that no item has that id (so it is
// neither pending nor being settled by anyone else). Before step 2, the
// principal's ledger is read (strongly consistent) from the reservation's
// creation on: a row of the request at another time means it was settled
// before, and the late settlement is undone (its item deleted; nothing
// else was written) with ErrNotFound. The row is always written before
// the item is deleted, and the item's id admits one settlement at a time,
// so whichever Settle of a request commits second finds the first's row.
// Step 4 of a late settlement adds all the real tokens: the release gave
// the reserved ones back.
//
// Steps 2 to 4 run even if ctx is canceled after step 1. If one of them
// fails, Settle returns the entry with an error saying that the settlement
// is committed and will be completed by ExpireReservations.
func (s *Store) Settle(ctx context.Context, st quota.Settlement) (quota.Entry, error) {
	id := st.Reservation.ID
	r, e, nonce, err := s.commitSettlement(ctx, st)
	if errors.Is(err, errNotPending) && st.Reservation.PrincipalID != "" {
		r, e, nonce, err = s.commitLateSettlement(ctx, st)
	}
	if err != nil {
		return quota.Entry{}, fmt.Errorf("dynamodb: settle %q: %w", id, err)
	}
	if err := s.finishSettlement(ctx, r, e, nonce); errors.Is(err, errSettledBefore) {
		return quota.Entry{}, fmt.Errorf("dynamodb: settle %q: %w", id, err)
	} else if err != nil {
		return e, fmt.Errorf("dynamodb: settle %q: committed, ExpireReservations will complete it: %w", id, err)
	}
	return e, nil
}

var (
	// errNotPending: the reservation is not pending (absent or settling).
	errNotPending = fmt.Errorf("no pending reservation: %w", record.ErrNotFound)
	// errSettledBefore: a late settlement found the request in the ledger.
	errSettledBefore = fmt.Errorf("no pending reservation, already settled: %w", record.ErrNotFound)
)

// commitSettlement is step 1 of Settle. It returns the nonce of the
// commit, which the finishing steps' conditions name.
func (s *Store) commitSettlement(ctx context.Context, st quota.Settlement) (quota.Reservation, quota.Entry, string, error) {
	var (
		r quota.Reservation
		e quota.Entry
	)
	if err := ctx.Err(); err != nil {
		return r, e, "", err
	}
	if st.PromptTokens < 0 || st.CompletionTokens < 0 {
		return r, e, "", errors.New("negative usage")
	}
	if st.Reservation.ID == "" {
		return r, e, "", errNotPending
	}
	nonce := rand.Text()
	values := item{
		":settling": attrS(stateSettling),
		":pending":  attrS(statePending),
		":p":        attrN(st.PromptTokens),
		":c":        attrN(st.CompletionTokens),
		":nonce":    attrS(nonce),
	}
	update := "SET #st = :settling, prompt_tokens = :p, completion_tokens = :c, settle_nonce = :nonce"
	for name, v := range settlementMoney(st) {
		values[":"+name] = v
		update += ", " + name + " = :" + name
	}
	if !st.At.IsZero() {
		at, err := toNanos(st.At)
		if err != nil {
			return r, e, "", err
		}
		values[":at"] = attrN(at)
		update += ", settled_at = :at"
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        aws.String(s.t.reservations),
		Key:              item{"id": attrS(st.Reservation.ID)},
		UpdateExpression: aws.String(update),
		// The nonce: the SDK's retry of a commit that was applied but whose
		// answer was lost succeeds, instead of reporting ErrNotFound.
		ConditionExpression:       aws.String("#st = :pending OR (#st = :settling AND settle_nonce = :nonce)"),
		ExpressionAttributeNames:  map[string]string{"#st": "st"},
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueAllNew,
	})
	if conditionFailed(err) {
		return r, e, "", errNotPending
	}
	if err != nil {
		return r, e, "", err
	}
	r, e, err = decodeReservation(out.Attributes)
	if err != nil {
		return r, e, nonce, fmt.Errorf("committed, but %w", err)
	}
	return r, e, nonce, nil
}

// commitLateSettlement is step 1 of a late Settle: the reservation item,
// put back settling and late, on the condition that the id is free. It
// returns the nonce of the commit, which the ledger row then carries.
func (s *Store) commitLateSettlement(ctx context.Context, st quota.Settlement) (quota.Reservation, quota.Entry, string, error) {
	fail := func(err error) (quota.Reservation, quota.Entry, string, error) {
		return quota.Reservation{}, quota.Entry{}, "", err
	}
	it, err := reservationItem(st.Reservation)
	if err != nil {
		return fail(err)
	}
	nonce := rand.Text()
	it["st"] = attrS(stateSettling)
	it["late"] = attrN(1)
	it["prompt_tokens"] = attrN(st.PromptTokens)
	it["completion_tokens"] = attrN(st.CompletionTokens)
	it["settle_nonce"] = attrS(nonce)
	maps.Copy(it, settlementMoney(st))
	if err := setTime(it, "settled_at", st.At); err != nil {
		return fail(err)
	}
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.t.reservations),
		Item:      it,
		// The nonce, as in commitSettlement: a retry of a put that was
		// applied succeeds.
		ConditionExpression:       aws.String("attribute_not_exists(id) OR settle_nonce = :nonce"),
		ExpressionAttributeValues: item{":nonce": attrS(nonce)},
	})
	if conditionFailed(err) {
		return fail(errNotPending)
	}
	if err != nil {
		return fail(err)
	}
	r, e, err := decodeReservation(it)
	return r, e, nonce, err
}

// settledBefore reports whether the ledger holds a row of r's request
// other than the one written by the late settlement with this nonce (which
// only that settlement's rows carry: an earlier one may well have the same
// time and so the same key): a strongly consistent Query of the
// principal's rows from the reservation's creation on (a settlement is
// never earlier), filtered to the request id. It costs the rows the
// principal settled meanwhile, and runs for late settlements only.
func (s *Store) settledBefore(ctx context.Context, r quota.Reservation, nonce string) (bool, error) {
	found := false
	err := s.query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.t.ledger),
		KeyConditionExpression:    aws.String("principal_id = :p AND at_id >= :since"),
		FilterExpression:          aws.String("request_id = :id"),
		ProjectionExpression:      aws.String("settle_nonce"),
		ExpressionAttributeValues: item{":p": attrS(r.PrincipalID), ":since": attrS(orderKey(r.CreatedAt, "")), ":id": attrS(r.ID)},
		ConsistentRead:            aws.Bool(true),
	}, func(it item) error {
		if getS(it, "settle_nonce") != nonce {
			found = true
		}
		return nil
	})
	return found, err
}

// finishSettlement runs steps 2 to 4 of Settle for a settling reservation
// committed with nonce. A late one whose request was settled before is
// undone instead, with errSettledBefore.
//
// The delete is conditional on the nonce, not merely on settling: once a
// settlement is finished, a late one may put an item with the same id,
// which a finisher of the first that runs behind must not take.
func (s *Store) finishSettlement(ctx context.Context, r quota.Reservation, e quota.Entry, nonce string) error {
	ctx, cancel := afterCommit(ctx)
	defer cancel()
	if nonce == "" {
		return errors.New("settlement without a nonce")
	}
	deleteMine := &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.t.reservations),
		Key:                       item{"id": attrS(r.ID)},
		ConditionExpression:       aws.String("#st = :settling AND settle_nonce = :nonce"),
		ExpressionAttributeNames:  map[string]string{"#st": "st"},
		ExpressionAttributeValues: item{":settling": attrS(stateSettling), ":nonce": attrS(nonce)},
	}
	if e.Late {
		dup, err := s.settledBefore(ctx, r, nonce)
		if err != nil {
			return fmt.Errorf("look for an earlier settlement: %w", err)
		}
		if dup {
			_, err := s.client.DeleteItem(ctx, deleteMine)
			if err != nil && !conditionFailed(err) {
				return fmt.Errorf("undo a late settlement of a request settled before: %w", err)
			}
			return errSettledBefore
		}
	}
	row, err := ledgerItem(e)
	if err != nil {
		return err
	}
	if e.Late {
		row["settle_nonce"] = attrS(nonce)
	}
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.t.ledger),
		Item:                row,
		ConditionExpression: aws.String("attribute_not_exists(principal_id)"),
	})
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("ledger row: %w", err)
	}
	_, err = s.client.DeleteItem(ctx, deleteMine)
	if conditionFailed(err) {
		return nil // another process finished it and adjusted the counters
	}
	if err != nil {
		return fmt.Errorf("delete reservation: %w", err)
	}
	delta, usd := e.PromptTokens+e.CompletionTokens-r.Tokens, e.CostMicros-r.CostMicros
	if e.Late {
		// the release gave the reserved tokens and dollars back
		delta, usd = delta+r.Tokens, usd+r.CostMicros
	}
	ws := windowsOf(r.Windows)
	if err := s.adjust(ctx, ws[:], r.PrincipalID, 0, delta, usd); err != nil {
		return fmt.Errorf("adjust windows: %w", err)
	}
	if countsTenant(r) {
		if err := s.adjust(ctx, ws[:], quota.TenantWindowsID(r.Tenant), 0, delta, usd); err != nil {
			return fmt.Errorf("adjust the tenant's windows: %w", err)
		}
	}
	return nil
}

// Release gives back a pending reservation's tokens: the conditional delete
// of the reservation commits, then the windows are adjusted (a crash in
// between keeps the tokens counted: held back, never overspent).
func (s *Store) Release(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dynamodb: release %q: %w", id, err)
	}
	if id == "" {
		return fmt.Errorf("dynamodb: release %q: %w", id, record.ErrNotFound)
	}
	ok, err := s.release(ctx, id, "#st = :pending", item{":pending": attrS(statePending)})
	if err != nil {
		return fmt.Errorf("dynamodb: release %q: %w", id, err)
	}
	if !ok {
		return fmt.Errorf("dynamodb: release %q: no pending reservation: %w", id, record.ErrNotFound)
	}
	return nil
}

// Extend moves a pending reservation's expires_at later: one conditional
// UpdateItem (pending, and expiring before expiresAt). ExpireReservations
// deletes on the condition that the item is pending and expired, so of the
// two conditional writes one sees the other's effect. When the condition
// fails, a strongly consistent read tells a reservation already expiring
// at or after expiresAt (nothing to do, or the SDK's retry of an applied
// update) from one no longer pending.
func (s *Store) Extend(ctx context.Context, id string, expiresAt time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dynamodb: extend %q: %w", id, err)
	}
	if id == "" {
		return fmt.Errorf("dynamodb: extend %q: %w", id, errNotPending)
	}
	exp, err := toNanos(expiresAt)
	if err != nil {
		return fmt.Errorf("dynamodb: extend %q: %w", id, err)
	}
	_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.t.reservations),
		Key:                       item{"id": attrS(id)},
		UpdateExpression:          aws.String("SET expires_at = :exp"),
		ConditionExpression:       aws.String("#st = :pending AND expires_at < :exp"),
		ExpressionAttributeNames:  map[string]string{"#st": "st"},
		ExpressionAttributeValues: item{":pending": attrS(statePending), ":exp": attrN(exp)},
	})
	if err == nil {
		return nil
	}
	if !conditionFailed(err) {
		return fmt.Errorf("dynamodb: extend %q: %w", id, err)
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.t.reservations), Key: item{"id": attrS(id)}, ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return fmt.Errorf("dynamodb: extend %q: %w", id, err)
	}
	if getS(out.Item, "st") == statePending {
		if cur, err := getN(out.Item, "expires_at"); err == nil && cur >= exp {
			return nil
		}
	}
	return fmt.Errorf("dynamodb: extend %q: %w", id, errNotPending)
}

// release deletes the reservation if cond holds and gives its tokens back;
// false if the condition failed.
func (s *Store) release(ctx context.Context, id, cond string, values item) (bool, error) {
	out, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.t.reservations),
		Key:                       item{"id": attrS(id)},
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  map[string]string{"#st": "st"},
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueAllOld,
	})
	if conditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	r, _, err := decodeReservation(out.Attributes)
	if err != nil {
		return true, err
	}
	ws := windowsOf(r.Windows)
	err = s.uncount(ctx, ws[:], r.PrincipalID, 0, r.Tokens, r.CostMicros)
	if countsTenant(r) {
		err = errors.Join(err, s.uncount(ctx, ws[:], quota.TenantWindowsID(r.Tenant), 0, r.Tokens, r.CostMicros))
	}
	return true, err
}

// ExpireReservations releases every pending reservation whose ExpiresAt is
// before now, and finishes every settlement left half done (by a crash
// after Settle's commit) whose reservation expired; it returns how many it
// released. It queries the 16 shards of the by_expiry index for expired
// items only; each release is a conditional delete, so concurrent runs (or
// a Settle racing with the expiry) never release twice.
func (s *Store) ExpireReservations(ctx context.Context, now time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("dynamodb: expire reservations: %w", err)
	}
	cutoff, err := toNanos(now)
	if err != nil {
		return 0, fmt.Errorf("dynamodb: expire reservations: %w", err)
	}
	released := 0
	var errs []error
	for sh := range expiryShards {
		err := s.query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(s.t.reservations),
			IndexName:                 aws.String(reservationsByExpiry),
			KeyConditionExpression:    aws.String("expiry_shard = :sh AND expires_at < :now"),
			ExpressionAttributeValues: item{":sh": attrN(int64(sh)), ":now": attrN(cutoff)},
		}, func(it item) error {
			// A failure on one item is collected: the others still expire.
			id := getS(it, "id")
			switch getS(it, "st") {
			case statePending:
				ok, err := s.release(ctx, id, "#st = :pending AND expires_at < :now",
					item{":pending": attrS(statePending), ":now": attrN(cutoff)})
				if ok {
					released++
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("release %q: %w", id, err))
				}
			case stateSettling:
				r, e, err := decodeReservation(it)
				if err == nil {
					err = s.finishSettlement(ctx, r, e, getS(it, "settle_nonce"))
				}
				if err != nil && !errors.Is(err, errSettledBefore) {
					errs = append(errs, fmt.Errorf("finish settlement %q: %w", id, err))
				}
			}
			return nil
		})
		if err != nil {
			return released, fmt.Errorf("dynamodb: expire reservations: %w", err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return released, fmt.Errorf("dynamodb: expire reservations: %w", err)
	}
	return released, nil
}

// Usage returns the ledger entries matching q, oldest first (by At, then
// request id). A principal's entries are one strongly consistent Query of
// the ledger table; a tenant's, one Query per shard of the by_tenant index
// (eventually consistent on AWS), merged; everything, a Scan.
func (s *Store) Usage(ctx context.Context, q quota.Query) ([]quota.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("dynamodb: usage: %w", err)
	}
	var since string
	if !q.Since.IsZero() {
		if _, err := toNanos(q.Since); err != nil {
			return nil, fmt.Errorf("dynamodb: usage: since: %w", err)
		}
		since = orderKey(q.Since, "")
	}
	entries := []quota.Entry{}
	add := func(it item) error {
		e, err := decodeEntry(it)
		if err != nil {
			return err
		}
		entries = append(entries, e)
		return nil
	}
	switch {
	case q.PrincipalID != "":
		in := &dynamodb.QueryInput{
			TableName:                 aws.String(s.t.ledger),
			KeyConditionExpression:    aws.String("principal_id = :p"),
			ExpressionAttributeValues: item{":p": attrS(q.PrincipalID)},
			ConsistentRead:            aws.Bool(true),
		}
		if since != "" {
			in.KeyConditionExpression = aws.String("principal_id = :p AND at_id >= :since")
			in.ExpressionAttributeValues[":since"] = attrS(since)
		}
		if q.Tenant != "" {
			in.FilterExpression = aws.String("tenant = :t")
			in.ExpressionAttributeValues[":t"] = attrS(q.Tenant)
		}
		if err := s.query(ctx, in, add); err != nil {
			return nil, fmt.Errorf("dynamodb: usage of %q: %w", q.PrincipalID, err)
		}
		return entries, nil // already in at_id order
	case q.Tenant != "":
		for sh := range ledgerTenantShards {
			in := &dynamodb.QueryInput{
				TableName:                 aws.String(s.t.ledger),
				IndexName:                 aws.String(ledgerByTenant),
				KeyConditionExpression:    aws.String("tenant_shard = :ts"),
				ExpressionAttributeValues: item{":ts": attrS(tenantShard(q.Tenant, sh))},
			}
			if since != "" {
				in.KeyConditionExpression = aws.String("tenant_shard = :ts AND at_id >= :since")
				in.ExpressionAttributeValues[":since"] = attrS(since)
			}
			if err := s.query(ctx, in, add); err != nil {
				return nil, fmt.Errorf("dynamodb: usage of tenant %q: %w", q.Tenant, err)
			}
		}
	default:
		in := &dynamodb.ScanInput{TableName: aws.String(s.t.ledger), ConsistentRead: aws.Bool(true)}
		if since != "" {
			in.FilterExpression = aws.String("at_id >= :since")
			in.ExpressionAttributeValues = item{":since": attrS(since)}
		}
		if err := s.scan(ctx, in, add); err != nil {
			return nil, fmt.Errorf("dynamodb: usage: %w", err)
		}
	}
	slices.SortFunc(entries, func(a, b quota.Entry) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.RequestID, b.RequestID), cmp.Compare(a.PrincipalID, b.PrincipalID))
	})
	return entries, nil
}

// tenantShard is the by_tenant partition of a ledger row: the tenant and
// two digits. The digits are always the last three characters, so no
// tenant name can collide with another's shard.
func tenantShard(tenant string, sh int) string {
	return tenant + "#" + fmt.Sprintf("%02d", sh)
}

// reservationItem encodes r for the reservations table.
func reservationItem(r quota.Reservation) (item, error) {
	it := item{
		"id":           attrS(r.ID),
		"principal_id": attrS(r.PrincipalID),
		"tokens":       attrN(r.Tokens),
		"st":           attrS(statePending),
		"expiry_shard": attrN(int64(shard(r.ID, expiryShards))),
	}
	setS(it, "tenant", r.Tenant)
	setS(it, "model", r.Model)
	setS(it, "protocol", r.Protocol)
	if r.CostMicros != 0 {
		it["cost_bound"] = attrN(r.CostMicros)
	}
	if countsTenant(r) {
		it["tenant_windows"] = attrN(1)
	}
	// expires_at is always present, being the index's sort key: a zero
	// ExpiresAt is stored as 0 and so expires at the next
	// ExpireReservations, as "before now" says.
	exp, err := toNanos(r.ExpiresAt)
	if err != nil {
		return nil, fmt.Errorf("expires_at: %w", err)
	}
	it["expires_at"] = attrN(exp)
	for _, t := range []struct {
		name string
		t    time.Time
	}{
		{"minute", r.Windows.Minute}, {"day", r.Windows.Day}, {"month", r.Windows.Month}, {"created_at", r.CreatedAt},
	} {
		if err := setTime(it, t.name, t.t); err != nil {
			return nil, err
		}
	}
	return it, nil
}

// decodeReservation reads a reservation item, and the ledger entry its
// settlement makes (meaningful once it is settling).
func decodeReservation(it item) (quota.Reservation, quota.Entry, error) {
	d := decoder{it: it}
	r := quota.Reservation{
		ID:          getS(it, "id"),
		PrincipalID: getS(it, "principal_id"),
		Tenant:      getS(it, "tenant"),
		Model:       getS(it, "model"),
		Protocol:    getS(it, "protocol"),
		Tokens:      d.n("tokens"),
		Windows:     quota.Windows{Minute: d.time("minute"), Day: d.time("day"), Month: d.time("month")},
		CreatedAt:   d.time("created_at"),
		ExpiresAt:   d.time("expires_at"),
		CostMicros:  d.n("cost_bound"),
	}
	if d.n("tenant_windows") == 1 {
		r.TenantLimits = &record.Limits{} // counted there; the limits themselves are not kept
	}
	e := quota.Entry{
		RequestID:        r.ID,
		PrincipalID:      r.PrincipalID,
		Tenant:           r.Tenant,
		Model:            r.Model,
		Protocol:         r.Protocol,
		PromptTokens:     d.n("prompt_tokens"),
		CompletionTokens: d.n("completion_tokens"),
		ReservedTokens:   r.Tokens,
		At:               d.time("settled_at"),
		Late:             d.n("late") == 1,
	}
	decodeMoney(&d, &e)
	if d.err != nil {
		return r, e, fmt.Errorf("reservation %q: %w", r.ID, d.err)
	}
	return r, e, nil
}

// ledgerItem encodes e for the ledger table.
func ledgerItem(e quota.Entry) (item, error) {
	it := item{
		"principal_id":      attrS(e.PrincipalID),
		"at_id":             attrS(orderKey(e.At, e.RequestID)),
		"request_id":        attrS(e.RequestID),
		"prompt_tokens":     attrN(e.PromptTokens),
		"completion_tokens": attrN(e.CompletionTokens),
		"reserved_tokens":   attrN(e.ReservedTokens),
	}
	maps.Copy(it, entryMoney(e))
	setS(it, "model", e.Model)
	setS(it, "protocol", e.Protocol)
	if e.Tenant != "" {
		it["tenant"] = attrS(e.Tenant)
		it["tenant_shard"] = attrS(tenantShard(e.Tenant, shard(e.RequestID, ledgerTenantShards)))
	}
	if err := setTime(it, "at", e.At); err != nil {
		return nil, err
	}
	return it, nil
}

func decodeEntry(it item) (quota.Entry, error) {
	d := decoder{it: it}
	e := quota.Entry{
		RequestID:        getS(it, "request_id"),
		PrincipalID:      getS(it, "principal_id"),
		Tenant:           getS(it, "tenant"),
		Model:            getS(it, "model"),
		Protocol:         getS(it, "protocol"),
		PromptTokens:     d.n("prompt_tokens"),
		CompletionTokens: d.n("completion_tokens"),
		ReservedTokens:   d.n("reserved_tokens"),
		At:               d.time("at"),
	}
	decodeMoney(&d, &e)
	if d.err != nil {
		return e, fmt.Errorf("ledger row %q: %w", e.RequestID, d.err)
	}
	return e, nil
}

// entryMoney is the money part of a ledger row (and of a settling
// reservation): the cache parts of the prompt, the cost and the price it
// was settled at, micro-dollars per 1M tokens. Zeros are left out: rows
// from before money was recorded have none and read as unpriced-at-$0.
func entryMoney(e quota.Entry) item {
	it := item{}
	for name, v := range map[string]int64{
		"cached_tokens": e.CachedTokens, "cache_write_tokens": e.CacheWriteTokens, "cost_micros": e.CostMicros,
		"price_input": int64(e.Price.Input), "price_output": int64(e.Price.Output),
		"price_cached_input": int64(e.Price.CachedInput), "price_cache_write": int64(e.Price.CacheWrite),
	} {
		if v != 0 {
			it[name] = attrN(v)
		}
	}
	if e.Unpriced {
		it["unpriced"] = attrN(1)
	}
	return it
}

func settlementMoney(st quota.Settlement) item {
	return entryMoney(quota.Entry{CachedTokens: st.CachedTokens, CacheWriteTokens: st.CacheWriteTokens,
		CostMicros: st.CostMicros, Price: st.Price, Unpriced: st.Unpriced})
}

func decodeMoney(d *decoder, e *quota.Entry) {
	e.CachedTokens, e.CacheWriteTokens, e.CostMicros = d.n("cached_tokens"), d.n("cache_write_tokens"), d.n("cost_micros")
	e.Price.Input, e.Price.Output = pricing.Micros(d.n("price_input")), pricing.Micros(d.n("price_output"))
	e.Price.CachedInput, e.Price.CacheWrite = pricing.Micros(d.n("price_cached_input")), pricing.Micros(d.n("price_cache_write"))
	e.Unpriced = d.n("unpriced") == 1
}

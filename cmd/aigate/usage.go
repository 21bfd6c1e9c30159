package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aigate/aigate/cmd/internal/env"
	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
)

// usageRow is the usage of one principal (an API key or a JWT subject)
// and model.
type usageRow struct {
	// KeyID is the key's id; for a JWT principal, its subject (the field
	// predates principal ids with a kind: PrincipalID tells them apart).
	KeyID            string      `json:"key_id"`
	Kind             record.Kind `json:"kind,omitempty"`   // api_key or jwt
	Issuer           string      `json:"issuer,omitempty"` // a JWT's issuer
	PrincipalID      string      `json:"principal_id"`     // key:ID or jwt:ISSUER#SUBJECT
	Tenant           string      `json:"tenant,omitempty"`
	Model            string      `json:"model"`
	Requests         int64       `json:"requests"`
	PromptTokens     int64       `json:"prompt_tokens"`
	CompletionTokens int64       `json:"completion_tokens"`
	TotalTokens      int64       `json:"total_tokens"`
	// CachedTokens and CacheWriteTokens are the parts of PromptTokens read
	// from and written to the prompt cache.
	CachedTokens     int64       `json:"cached_tokens"`
	CacheWriteTokens int64       `json:"cache_write_tokens"`
	CostUSD          json.Number `json:"cost_usd"`
	// UnpricedRequests were of a model without a price: metered at $0.
	UnpricedRequests int64 `json:"unpriced_requests"`
	costMicros       int64
}

// name is how the table shows the principal: a key by its id, anything
// else by its whole principal id.
func (r usageRow) name() string {
	if r.Kind == record.KindAPIKey {
		return r.KeyID
	}
	return r.PrincipalID
}

func runUsage(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s env.Settings
	fs := newFlagSet("usage", stderr, &s)
	key := fs.String("key", "", "only this key (its id)")
	principal := fs.String("principal", "", "only this principal (key:ID or jwt:ISSUER#SUBJECT)")
	tenant := fs.String("tenant", "", "only keys of this tenant")
	since := fs.String("since", "", "only usage since: a duration ago (24h, 30d) or an RFC 3339 time (default: all)")
	by := fs.String("by", "", "group by key, tenant, model or day (UTC) (default: key and model)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("usage takes no arguments, got %q", pos[0])
	}
	byGiven := false
	fs.Visit(func(f *flag.Flag) { byGiven = byGiven || f.Name == "by" })
	if (byGiven || *by != "") && !validBy[*by] {
		return usageErr("usage: --by %q: want key, tenant, model or day", *by)
	}
	if *key != "" && *principal != "" {
		return usageErr("usage: give --key or --principal, not both")
	}
	q := quota.Query{PrincipalID: *principal, Tenant: *tenant}
	if *key != "" {
		// The ledger names a key by its principal id, never a JWT subject
		// that happens to equal the key's id.
		q.PrincipalID = record.KeyPrincipalID(strings.TrimPrefix(*key, record.KeyPrincipalPrefix))
	}
	if *since != "" {
		if q.Since, err = parseSince(*since, time.Now()); err != nil {
			return usageErr("usage: --since: %v", err)
		}
	}
	st, err := s.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	entries, err := st.Usage(ctx, q)
	if err != nil {
		return err
	}
	if *by != "" {
		return writeGroups(stdout, *by, usageGroups(entries, *by), *asJSON)
	}
	rows := usageRows(entries)
	if *asJSON {
		return writeJSON(stdout, rows)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "KEY OR PRINCIPAL\tTENANT\tMODEL\tREQUESTS\tPROMPT\tCOMPLETION\tTOTAL\tCOST USD\t")
	var total usageRow
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t\n", r.name(), dash(r.Tenant), r.Model,
			r.Requests, r.PromptTokens, r.CompletionTokens, r.TotalTokens, r.CostUSD)
		total.Requests += r.Requests
		total.PromptTokens += r.PromptTokens
		total.CompletionTokens += r.CompletionTokens
		total.TotalTokens += r.TotalTokens
		total.costMicros += r.costMicros
	}
	fmt.Fprintf(tw, "total\t\t\t%d\t%d\t%d\t%d\t%s\t\n", total.Requests, total.PromptTokens, total.CompletionTokens, total.TotalTokens, usd(total.costMicros))
	return tw.Flush()
}

// usageRows sums the ledger per principal and model, ordered by key id
// (or subject), then principal id, then model.
func usageRows(entries []quota.Entry) []usageRow {
	type group struct{ principal, model string }
	sums := map[group]*usageRow{}
	for _, e := range entries {
		g := group{e.PrincipalID, e.Model}
		r := sums[g]
		if r == nil {
			r = &usageRow{KeyID: e.PrincipalID, PrincipalID: e.PrincipalID, Tenant: e.Tenant, Model: e.Model}
			if kind, issuer, subject, ok := record.SplitPrincipalID(e.PrincipalID); ok {
				r.Kind, r.Issuer, r.KeyID = kind, issuer, subject
			}
			sums[g] = r
		}
		r.Requests++
		r.PromptTokens += e.PromptTokens
		r.CompletionTokens += e.CompletionTokens
		r.TotalTokens += e.PromptTokens + e.CompletionTokens
		r.CachedTokens += e.CachedTokens
		r.CacheWriteTokens += e.CacheWriteTokens
		r.costMicros += e.CostMicros
		if e.Unpriced {
			r.UnpricedRequests++
		}
	}
	rows := make([]usageRow, 0, len(sums))
	for _, r := range sums {
		r.CostUSD = usd(r.costMicros)
		rows = append(rows, *r)
	}
	slices.SortFunc(rows, func(a, b usageRow) int {
		return cmp.Or(cmp.Compare(a.KeyID, b.KeyID), cmp.Compare(a.PrincipalID, b.PrincipalID), cmp.Compare(a.Model, b.Model))
	})
	return rows
}

// parseSince accepts a duration ago ("24h", "30d") or an RFC 3339 time.
func parseSince(v string, now time.Time) (time.Time, error) {
	t, d, err := parseTimeOrDuration(v)
	if err != nil || !t.IsZero() {
		return t, err
	}
	return now.Add(-d).UTC(), nil
}

var validBy = map[string]bool{"key": true, "tenant": true, "model": true, "day": true}

// groupRow is the usage of one group of --by: exactly one of KeyID (with
// PrincipalID), Tenant, Model and Day is set, naming it. Input tokens
// include the cached and cache-write ones; the cost is each request's
// cost at the price it was settled with, as the ledger recorded it.
type groupRow struct {
	KeyID            *string     `json:"key_id,omitempty"`
	PrincipalID      string      `json:"principal_id,omitempty"`
	Tenant           *string     `json:"tenant,omitempty"`
	Model            *string     `json:"model,omitempty"`
	Day              *string     `json:"day,omitempty"`
	Requests         int64       `json:"requests"`
	InputTokens      int64       `json:"input_tokens"`
	OutputTokens     int64       `json:"output_tokens"`
	CachedTokens     int64       `json:"cached_tokens"`
	CacheWriteTokens int64       `json:"cache_write_tokens"`
	CostUSD          json.Number `json:"cost_usd"`
	UnpricedRequests int64       `json:"unpriced_requests"`
	name             string
	costMicros       int64
}

// usageGroups sums the ledger per group of by, ordered by the group's name.
func usageGroups(entries []quota.Entry, by string) []groupRow {
	sums := map[string]*groupRow{}
	for _, e := range entries {
		var name string
		switch by {
		case "key":
			name = e.PrincipalID
		case "tenant":
			name = e.Tenant
		case "model":
			name = e.Model
		case "day":
			name = e.At.UTC().Format(time.DateOnly)
		}
		r := sums[name]
		if r == nil {
			r = &groupRow{name: name}
			v := name
			switch by {
			case "key":
				r.PrincipalID = e.PrincipalID
				if _, _, subject, ok := record.SplitPrincipalID(e.PrincipalID); ok {
					v = subject
				}
				r.KeyID = &v
			case "tenant":
				r.Tenant = &v
			case "model":
				r.Model = &v
			case "day":
				r.Day = &v
			}
			sums[name] = r
		}
		r.Requests++
		r.InputTokens += e.PromptTokens
		r.OutputTokens += e.CompletionTokens
		r.CachedTokens += e.CachedTokens
		r.CacheWriteTokens += e.CacheWriteTokens
		r.costMicros += e.CostMicros
		if e.Unpriced {
			r.UnpricedRequests++
		}
	}
	rows := make([]groupRow, 0, len(sums))
	for _, r := range sums {
		r.CostUSD = usd(r.costMicros)
		rows = append(rows, *r)
	}
	slices.SortFunc(rows, func(a, b groupRow) int { return cmp.Compare(a.name, b.name) })
	return rows
}

func writeGroups(w io.Writer, by string, rows []groupRow, asJSON bool) error {
	if asJSON {
		return writeJSON(w, rows)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\tREQUESTS\tINPUT\tOUTPUT\tCACHED\tCACHE WRITE\tUNPRICED\tCOST USD\t\n", strings.ToUpper(by))
	var total groupRow
	for _, r := range rows {
		name := r.name
		if by == "key" && r.KeyID != nil && strings.HasPrefix(r.PrincipalID, record.KeyPrincipalPrefix) {
			name = *r.KeyID
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t\n", dash(name), r.Requests, r.InputTokens, r.OutputTokens,
			r.CachedTokens, r.CacheWriteTokens, r.UnpricedRequests, r.CostUSD)
		total.Requests += r.Requests
		total.InputTokens += r.InputTokens
		total.OutputTokens += r.OutputTokens
		total.CachedTokens += r.CachedTokens
		total.CacheWriteTokens += r.CacheWriteTokens
		total.UnpricedRequests += r.UnpricedRequests
		total.costMicros += r.costMicros
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t\n", total.Requests, total.InputTokens, total.OutputTokens,
		total.CachedTokens, total.CacheWriteTokens, total.UnpricedRequests, usd(total.costMicros))
	return tw.Flush()
}

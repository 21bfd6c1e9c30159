package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/setup"
)

// usageRow is the usage of one key and model.
type usageRow struct {
	KeyID            string `json:"key_id"`
	Tenant           string `json:"tenant,omitempty"`
	Model            string `json:"model"`
	Requests         int64  `json:"requests"`
	PromptTokens     int64  `json:"prompt_tokens"`
	CompletionTokens int64  `json:"completion_tokens"`
	TotalTokens      int64  `json:"total_tokens"`
}

func runUsage(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s setup.Settings
	fs := newFlagSet("usage", stderr, &s)
	key := fs.String("key", "", "only this key (its id)")
	tenant := fs.String("tenant", "", "only keys of this tenant")
	since := fs.String("since", "", "only usage since: a duration ago (24h, 30d) or an RFC 3339 time (default: all)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("usage takes no arguments, got %q", pos[0])
	}
	q := quota.Query{PrincipalID: *key, Tenant: *tenant}
	if *since != "" {
		if q.Since, err = parseSince(*since, time.Now()); err != nil {
			return usageErr("usage: --since: %v", err)
		}
	}
	st, err := setup.OpenStore(ctx, s)
	if err != nil {
		return err
	}
	defer st.Close()
	entries, err := st.Usage(ctx, q)
	if err != nil {
		return err
	}
	rows := usageRows(entries)
	if *asJSON {
		return writeJSON(stdout, rows)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "KEY\tTENANT\tMODEL\tREQUESTS\tPROMPT\tCOMPLETION\tTOTAL\t")
	var total usageRow
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t\n", r.KeyID, dash(r.Tenant), r.Model,
			r.Requests, r.PromptTokens, r.CompletionTokens, r.TotalTokens)
		total.Requests += r.Requests
		total.PromptTokens += r.PromptTokens
		total.CompletionTokens += r.CompletionTokens
		total.TotalTokens += r.TotalTokens
	}
	fmt.Fprintf(tw, "total\t\t\t%d\t%d\t%d\t%d\t\n", total.Requests, total.PromptTokens, total.CompletionTokens, total.TotalTokens)
	return tw.Flush()
}

// usageRows sums the ledger per key and model, ordered by key, then model.
func usageRows(entries []quota.Entry) []usageRow {
	type group struct{ key, model string }
	sums := map[group]*usageRow{}
	for _, e := range entries {
		g := group{e.PrincipalID, e.Model}
		r := sums[g]
		if r == nil {
			r = &usageRow{KeyID: e.PrincipalID, Tenant: e.Tenant, Model: e.Model}
			sums[g] = r
		}
		r.Requests++
		r.PromptTokens += e.PromptTokens
		r.CompletionTokens += e.CompletionTokens
		r.TotalTokens += e.PromptTokens + e.CompletionTokens
	}
	rows := make([]usageRow, 0, len(sums))
	for _, r := range sums {
		rows = append(rows, *r)
	}
	slices.SortFunc(rows, func(a, b usageRow) int {
		return cmp.Or(cmp.Compare(a.KeyID, b.KeyID), cmp.Compare(a.Model, b.Model))
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

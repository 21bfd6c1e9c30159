package console

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aigate/aigate/pricing"
	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
)

// lastUsedWindow bounds the ledger read behind the keys' "last used": a
// key unused for longer shows none.
const lastUsedWindow = 90 * 24 * time.Hour

// UsageFilter selects ledger entries: [From, To), and optionally one key,
// tenant and model. GroupBy names the table's columns.
type UsageFilter struct {
	From, To time.Time
	KeyID    string
	Tenant   string
	Model    string
	GroupBy  []string // of "key", "tenant", "model", "day"
}

var groupNames = []string{"key", "tenant", "model", "day"}

func parseUsageFilter(q url.Values, now time.Time) (UsageFilter, error) {
	f := UsageFilter{To: now.UTC(), From: now.UTC().Add(-24 * time.Hour),
		KeyID: q.Get("key"), Tenant: q.Get("tenant"), Model: q.Get("model"), GroupBy: []string{"key", "model"}}
	for name, t := range map[string]*time.Time{"from": &f.From, "to": &f.To} {
		v := q.Get(name)
		if v == "" {
			continue
		}
		parsed, err := parseTime(v)
		if err != nil {
			return f, badRequest("%s: %q is neither an RFC 3339 time nor a date (2006-01-02)", name, v)
		}
		*t = parsed
	}
	if !f.From.Before(f.To) {
		return f, badRequest("from must be before to")
	}
	if f.To.Sub(f.From) > 400*24*time.Hour {
		return f, badRequest("the range is longer than 400 days")
	}
	if v := q.Get("group_by"); v != "" {
		f.GroupBy = nil
		for _, g := range strings.Split(v, ",") {
			if !slices.Contains(groupNames, g) {
				return f, badRequest("group_by: %q is not one of key, tenant, model, day", g)
			}
			if !slices.Contains(f.GroupBy, g) {
				f.GroupBy = append(f.GroupBy, g)
			}
		}
	}
	return f, nil
}

// parseTime accepts RFC 3339 or a date, a date meaning its UTC midnight.
func parseTime(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02T15:04", v); err == nil { // <input type=datetime-local>
		return t.UTC(), nil
	}
	return time.Parse("2006-01-02", v)
}

// UsagePoint is one bucket of the usage chart.
type UsagePoint struct {
	Start      time.Time   `json:"start"`
	Requests   int64       `json:"requests"`
	Tokens     int64       `json:"tokens"`
	CostUSD    json.Number `json:"cost_usd"`
	costMicros int64
}

// UsageGroup is one row of the usage table; the fields not grouped by are
// empty.
type UsageGroup struct {
	KeyID            string `json:"key_id,omitempty"`
	PrincipalID      string `json:"principal_id,omitempty"`
	Tenant           string `json:"tenant,omitempty"`
	Model            string `json:"model,omitempty"`
	Day              string `json:"day,omitempty"`
	Requests         int64  `json:"requests"`
	PromptTokens     int64  `json:"prompt_tokens"`
	CompletionTokens int64  `json:"completion_tokens"`
	TotalTokens      int64  `json:"total_tokens"`
	// CostUSD is the sum of the ledger rows' costs, each at the price it
	// was settled with (a later price change never rewrites it), in
	// dollars exact to the micro-dollar: the field of `aigate usage --json`.
	CostUSD json.Number `json:"cost_usd"`
	// UnpricedRequests were of a model without a price: metered at $0.
	UnpricedRequests int64 `json:"unpriced_requests"`
	costMicros       int64
}

// UsageReport is what GET /console/api/usage answers.
type UsageReport struct {
	From    time.Time    `json:"from"`
	To      time.Time    `json:"to"`
	Step    string       `json:"step"` // "hour" or "day"
	GroupBy []string     `json:"group_by"`
	Series  []UsagePoint `json:"series"`
	Groups  []UsageGroup `json:"groups"`
	Total   UsageGroup   `json:"total"`
}

func (c *Console) entries(ctx context.Context, f UsageFilter) ([]quota.Entry, error) {
	q := quota.Query{Tenant: f.Tenant, Since: f.From}
	if f.KeyID != "" {
		q.PrincipalID = record.KeyPrincipalID(f.KeyID)
	}
	all, err := c.Store.Usage(ctx, q)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, e := range all {
		if e.At.Before(f.From) || !e.At.Before(f.To) || (f.Model != "" && e.Model != f.Model) {
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

func (c *Console) usage(ctx context.Context, f UsageFilter) (*UsageReport, error) {
	entries, err := c.entries(ctx, f)
	if err != nil {
		return nil, err
	}
	rep := &UsageReport{From: f.From, To: f.To, GroupBy: f.GroupBy, Step: "day"}
	step := 24 * time.Hour
	if f.To.Sub(f.From) <= 48*time.Hour {
		rep.Step, step = "hour", time.Hour
	}
	first := f.From.Truncate(step)
	for t := first; t.Before(f.To); t = t.Add(step) {
		rep.Series = append(rep.Series, UsagePoint{Start: t})
	}
	groups := map[UsageGroup]*UsageGroup{}
	for _, e := range entries {
		tokens := e.PromptTokens + e.CompletionTokens
		if i := int(e.At.Sub(first) / step); i >= 0 && i < len(rep.Series) {
			p := &rep.Series[i]
			p.Requests++
			p.Tokens += tokens
			p.costMicros += e.CostMicros
		}
		var g UsageGroup
		for _, name := range f.GroupBy {
			switch name {
			case "key":
				g.PrincipalID = e.PrincipalID
				if kind, _, subject, ok := record.SplitPrincipalID(e.PrincipalID); ok && kind == record.KindAPIKey {
					g.KeyID = subject
				}
			case "tenant":
				g.Tenant = e.Tenant
			case "model":
				g.Model = e.Model
			case "day":
				g.Day = e.At.UTC().Format("2006-01-02")
			}
		}
		row := groups[g]
		if row == nil {
			row = new(UsageGroup)
			*row = g
			groups[g] = row
		}
		for _, r := range []*UsageGroup{row, &rep.Total} {
			r.Requests++
			r.PromptTokens += e.PromptTokens
			r.CompletionTokens += e.CompletionTokens
			r.TotalTokens += tokens
			r.costMicros += e.CostMicros
			if e.Unpriced {
				r.UnpricedRequests++
			}
		}
	}
	for i := range rep.Series {
		rep.Series[i].CostUSD = usd(rep.Series[i].costMicros)
	}
	rep.Total.CostUSD = usd(rep.Total.costMicros)
	rep.Groups = make([]UsageGroup, 0, len(groups))
	for _, g := range groups {
		g.CostUSD = usd(g.costMicros)
		rep.Groups = append(rep.Groups, *g)
	}
	slices.SortFunc(rep.Groups, func(a, b UsageGroup) int {
		return cmp.Or(strings.Compare(a.Day, b.Day), strings.Compare(a.PrincipalID, b.PrincipalID),
			strings.Compare(a.Tenant, b.Tenant), strings.Compare(a.Model, b.Model))
	})
	return rep, nil
}

// lastUsed maps principal ids to their latest ledger entry's time.
func (c *Console) lastUsed(ctx context.Context) (map[string]time.Time, error) {
	entries, err := c.Store.Usage(ctx, quota.Query{Since: c.Now().Add(-lastUsedWindow)})
	if err != nil {
		return nil, err
	}
	last := map[string]time.Time{}
	for _, e := range entries {
		if e.At.After(last[e.PrincipalID]) {
			last[e.PrincipalID] = e.At
		}
	}
	return last, nil
}

// barChart draws one series as an SVG bar chart, its values written by
// format. Every string in it is escaped, so the markup is safe to embed.
func barChart(title string, points []UsagePoint, value func(UsagePoint) int64, format func(int64) string, step string) template.HTML {
	const w, h, left, bottom, top = 720, 180, 56, 24, 12
	var max int64
	for _, p := range points {
		max = maxInt(max, value(p))
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" role="img" aria-label="%s" viewBox="0 0 %d %d" width="%d" height="%d" xmlns="http://www.w3.org/2000/svg">`,
		html.EscapeString(title), w, h, w, h)
	fmt.Fprintf(&b, `<title>%s</title>`, html.EscapeString(title))
	plotW, plotH := float64(w-left-8), float64(h-top-bottom)
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, left, h-bottom, w-8, h-bottom)
	fmt.Fprintf(&b, `<text class="label" x="%d" y="%d" text-anchor="end">%s</text>`, left-6, top+10, html.EscapeString(format(max)))
	fmt.Fprintf(&b, `<text class="label" x="%d" y="%d" text-anchor="end">0</text>`, left-6, h-bottom)
	n := len(points)
	if n > 0 {
		slot := plotW / float64(n)
		for i, p := range points {
			v := value(p)
			if v == 0 || max == 0 {
				continue
			}
			bh := plotH * float64(v) / float64(max)
			fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %s</title></rect>`,
				float64(left)+float64(i)*slot+slot*0.1, float64(h-bottom)-bh, slot*0.8, bh,
				html.EscapeString(bucketLabel(p.Start, step)), html.EscapeString(format(v)))
		}
		for _, i := range []int{0, n / 2, n - 1} {
			fmt.Fprintf(&b, `<text class="label" x="%.1f" y="%d" text-anchor="middle">%s</text>`,
				float64(left)+(float64(i)+0.5)*slot, h-6, html.EscapeString(bucketLabel(points[i].Start, step)))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func count(n int64) string { return strconv.FormatInt(n, 10) }

// dollars writes micro-dollars as "$0.021", exactly.
func dollars(micros int64) string { return "$" + pricing.Micros(micros).String() }

func bucketLabel(t time.Time, step string) string {
	if step == "hour" {
		return t.UTC().Format("Jan 2 15:04")
	}
	return t.UTC().Format("Jan 2")
}

func maxInt(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

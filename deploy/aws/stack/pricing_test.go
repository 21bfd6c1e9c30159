package stack

import (
	"strings"
	"testing"
)

// The cases mirror the aigate pricing package's tests of ParseJSON and
// ParseUSD: what the Lambda accepts passes, what it refuses is refused here,
// naming the same field.
func TestCheckPricingAcceptsWhatTheLambdaAccepts(t *testing.T) {
	for _, raw := range []string{
		`[]`,
		`[{"model":"gpt-4o*","input":"1","output":2,"cachedInput":0.5}]`,
		`[{"model":"m","input":1,"output":1},{"model":"m","input":2,"output":2,"effective":"2026-01-01"}]`,
		`[{"model":"*claude-sonnet-4*","input":"$3.00","output":"15.","cachedInput":".3","cacheWrite":"3.750000","effective":"2026-01-01T00:00:00Z"}]`,
		`[{"model":"m","input":"9223372036854.775807","output":0,"cachedInput":null}]`,
	} {
		if err := checkPricing(raw); err != nil {
			t.Errorf("checkPricing(%s) = %v, want nil", raw, err)
		}
	}
}

func TestCheckPricingRefusesWhatTheLambdaRefuses(t *testing.T) {
	for _, c := range []struct{ raw, want string }{
		{`[{"model":"m","output":1}]`, "pricing[0].input: required"},
		{`[{"model":"m","input":1}]`, "pricing[0].output: required"},
		{`[{"model":"m","input":1,"output":1},{"model":"m","input":1,"output":"-2"}]`, "pricing[1].output"},
		{`[{"model":"m","input":1,"output":1,"cachedInput":0.0000001}]`, "pricing[0].cachedInput: amount \"0.0000001\" is finer than a micro-dollar"},
		{`[{"model":"m","input":1,"output":1,"cacheWrite":"x"}]`, "pricing[0].cacheWrite"},
		{`[{"model":"m","input":1e3,"output":1}]`, "pricing[0].input"},
		{`[{"model":"m","input":"9223372036854.775808","output":1}]`, "pricing[0].input: amount \"9223372036854.775808\" is too large"},
		{`[{"model":"m","input":"","output":1}]`, "pricing[0].input: empty amount"},
		{`[{"model":"m","input":".","output":1}]`, "pricing[0].input"},
		{`[{"model":"m","input":true,"output":1}]`, "pricing[0].input"},
		{`[{"model":"a b","input":1,"output":1}]`, "pricing[0].model"},
		{`[{"input":1,"output":1}]`, "pricing[0].model"},
		{`[{"model":"` + strings.Repeat("m", 257) + `","input":1,"output":1}]`, "pricing[0].model"},
		{`[{"model":"m","input":1,"output":1,"effective":"soon"}]`, "pricing[0].effective"},
		{`[{"model":"m","input":1,"output":1,"outptu":1}]`, "outptu"},
		{`[{"model":"m","input":[1],"output":1}]`, "pricing[0].input: must be a number"},
		{`{"model":"m","input":1,"output":1}`, "want a list"},
	} {
		if err := checkPricing(c.raw); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("checkPricing(%s) = %v, want an error containing %q", c.raw, err, c.want)
		}
	}
}

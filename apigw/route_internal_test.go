package apigw

import (
	"strings"
	"testing"

	"github.com/aigate/aigate/policy"
)

func TestCoversRoute(t *testing.T) {
	for _, tc := range []struct {
		pattern, routeKey string
		want              bool
	}{
		{"GET/v1/models", "GET /v1/models", true},
		{"GET/v1/models/*", "GET /v1/models/{id+}", true},
		{"GET/v1/models/*", "GET /v1/models/{id}", true},
		{"GET/v1/models*", "GET /v1/models", true},
		{"GET/v1/models/*", "GET /v1/models", false},
		{"*/v1/*", "ANY /v1/{proxy+}", true},
		{"POST/v1/*", "ANY /v1/{proxy+}", false},
		{"GET/v1/*/x", "GET /v1/{a}/x", true},
		{"GET/v1/?/x", "GET /v1/{a}/x", false}, // a value is not one character
		{"GET/v1/models/gpt*", "GET /v1/models/{id}", false},
		{"POST/model/gpt-4o*/invoke", "POST /model/{id}/invoke", false},
		{"POST/v1/chat/completions", "POST /v1/{proxy+}", false},
		{"P?ST/v1/chat", "POST /v1/chat", true},
		{"*/*", "GET /", true},
		{"*/*", "$default", false},
		{"*", "$default", true},
		{"$default", "$default", true},
		{"", "GET /", false},
		{"GET/v1/models", "GET /v1/models/{id}", false},
	} {
		tmpl, err := routeTemplate(tc.routeKey)
		if err != nil {
			t.Fatalf("routeTemplate(%q): %v", tc.routeKey, err)
		}
		if got := coversRoute(tc.pattern, tmpl); got != tc.want {
			t.Errorf("coversRoute(%q, %q) = %v, want %v", tc.pattern, tc.routeKey, got, tc.want)
		}
	}
	for _, bad := range []string{"", "GET", "GET v1", "GET /v1/{id", "\xff /v1"} {
		if _, err := routeTemplate(bad); err == nil {
			t.Errorf("routeTemplate(%q) accepted", bad)
		}
	}
}

// FuzzCoversRouteIsSound: whenever a pattern covers a route key, it matches
// every request of that route, whatever text fills the route's open parts.
func FuzzCoversRouteIsSound(f *testing.F) {
	f.Add("GET/v1/models/*", "GET /v1/models/{id+}", "a/b")
	f.Add("*/v1/*", "ANY /v1/{proxy+}", "POST")
	f.Add("*?/*", "ANY /{a}/{b}", "x")
	f.Fuzz(func(t *testing.T, pattern, routeKey, fill string) {
		tmpl, err := routeTemplate(routeKey)
		if err != nil || !coversRoute(pattern, tmpl) {
			return
		}
		var b strings.Builder
		for _, r := range tmpl {
			if r == anyText {
				b.WriteString(fill)
			} else {
				b.WriteRune(r)
			}
		}
		if !policy.Match(pattern, b.String()) {
			t.Fatalf("coversRoute(%q, %q) but %q does not match %q", pattern, routeKey, pattern, b.String())
		}
	})
}

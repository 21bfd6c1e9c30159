package apigw

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// An HTTP API simple response is one boolean for the whole cache key: API
// Gateway re-uses a cached {"isAuthorized":true} for every route the same
// identity-source values reach. So a simple response may carry a route
// scope only when the cache key holds the route, and the answer must be the
// same for every request of that route:
//
//   - the event's identitySource must hold its routeKey (the authorizer's
//     identity sources list $context.routeKey), else no simple response is
//     given at all (an error: API Gateway's 500);
//   - the route is authorized when one scope pattern matches every path the
//     route key can match, so the answer depends on the route key alone.
//     Path parameters ({id}, {proxy+}) and the verb ANY stand for unknown
//     text that only a '*' of the pattern can cover; "GET/v1/models/*"
//     covers "GET /v1/models/{id+}", while "*/v1/*" never covers
//     "$default" and per-model patterns ("POST/model/gpt-4o*/invoke")
//     never cover "POST /model/{id}/invoke": such scopes need IAM policy
//     answers (Handler.IAMForHTTPAPI).

// errRouteNotInCacheKey: a simple response without the route in the cache
// key would be re-used for every route.
var errRouteNotInCacheKey = errors.New("apigw: HTTP API simple responses need $context.routeKey among the authorizer's identity sources " +
	"(else API Gateway re-uses one answer for every route); add it, or answer with IAM policies (AIGATE_HTTP_API_RESPONSE=iam)")

// routeAuthorized decides a simple response for an allowed principal whose
// scope is scope.
func routeAuthorized(ev *Event, scope []string) (bool, error) {
	var sources []string
	if err := json.Unmarshal(ev.IdentitySource, &sources); err != nil || !slices.Contains(sources, ev.RouteKey) || ev.RouteKey == "" {
		return false, errRouteNotInCacheKey
	}
	tmpl, err := routeTemplate(ev.RouteKey)
	if err != nil {
		return false, err
	}
	for _, p := range scope {
		if coversRoute(p, tmpl) {
			return true, nil
		}
	}
	return false, nil
}

// anyText stands in a route template for text the route key does not fix:
// a path parameter's value, or the verb of an ANY route. It is no rune a
// string decodes to.
const anyText rune = -1

// routeTemplate turns a route key into the characters of the ARN suffix
// ("VERB/path") its requests have, with anyText for the parts it leaves
// open. "$default" is its own suffix: the routeArn of the $default route
// ends in "/$default" (see policy.DefaultRoute).
func routeTemplate(routeKey string) ([]rune, error) {
	if !utf8.ValidString(routeKey) {
		return nil, errors.New("apigw: routeKey is not UTF-8")
	}
	if routeKey == "$default" {
		return []rune(routeKey), nil
	}
	verb, path, ok := strings.Cut(routeKey, " ")
	if !ok || verb == "" || !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("apigw: routeKey %.80q is not \"VERB /path\" or $default", routeKey)
	}
	var t []rune
	if verb == "ANY" {
		t = append(t, anyText)
	} else {
		t = append(t, []rune(verb)...)
	}
	for i := 0; i < len(path); {
		if path[i] == '{' {
			end := strings.IndexByte(path[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("apigw: routeKey %.80q has an unclosed parameter", routeKey)
			}
			t = append(t, anyText)
			i += end + 1
			continue
		}
		r, n := utf8.DecodeRuneInString(path[i:])
		t = append(t, r)
		i += n
	}
	return t, nil
}

// coversRoute reports whether the IAM pattern matches every string the
// template stands for. It is policy.Match with one difference that keeps it
// sound: an anyText in the template can only be swallowed by a '*', never
// by '?' or a literal, since its text is unknown. It may answer false for a
// pattern that does cover the template in a roundabout way; that only
// refuses, never grants.
//
// cover[j] says whether pattern[i:] covers tmpl[j:], computed from the end
// of the pattern backwards, one row per pattern character.
func coversRoute(pattern string, tmpl []rune) bool {
	if !utf8.ValidString(pattern) {
		return false
	}
	p := []rune(pattern)
	next := make([]bool, len(tmpl)+1) // row i+1
	cur := make([]bool, len(tmpl)+1)  // row i
	next[len(tmpl)] = true            // the empty pattern covers only the empty rest
	for i := len(p) - 1; i >= 0; i-- {
		for j := len(tmpl); j >= 0; j-- {
			switch {
			case p[i] == '*':
				// Empty, or swallow tmpl[j] and stay on this '*'.
				cur[j] = next[j] || (j < len(tmpl) && cur[j+1])
			case j == len(tmpl) || tmpl[j] == anyText:
				cur[j] = false
			case p[i] == '?' || p[i] == tmpl[j]:
				cur[j] = next[j+1]
			default:
				cur[j] = false
			}
		}
		next, cur = cur, next
	}
	return next[0]
}

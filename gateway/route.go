package gateway

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

type segKind uint8

// The order is the priority: API Gateway prefers an exact segment to a
// {param}, and a {param} to a greedy {proxy+}.
const (
	segLiteral segKind = iota
	segParam
	segGreedy
)

type segment struct {
	kind segKind
	text string // the literal, or the parameter's name
}

// routeMethods are the methods a route may name.
var routeMethods = map[string]bool{
	"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true,
	"HEAD": true, "OPTIONS": true, "ANY": true,
}

// defaultRouteKey is the HTTP API catch-all route.
const defaultRouteKey = "$default"

// parseRouteKey parses "METHOD /path" (or "$default" for HTTP APIs).
func parseRouteKey(s string, httpAPI bool) (method, resource string, segs []segment, err error) {
	if s == defaultRouteKey {
		if !httpAPI {
			return "", "", nil, errors.New("$default is a route of HTTP APIs only")
		}
		return "", "", nil, nil
	}
	method, resource, ok := strings.Cut(s, " ")
	if !ok {
		return "", "", nil, fmt.Errorf("%q is not \"METHOD /path\"", s)
	}
	if !routeMethods[method] {
		return "", "", nil, fmt.Errorf("unsupported method %q (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or ANY)", method)
	}
	if !strings.HasPrefix(resource, "/") {
		return "", "", nil, fmt.Errorf("path %q must start with /", resource)
	}
	if resource == "/" {
		return method, resource, nil, nil
	}
	if strings.HasSuffix(resource, "/") {
		return "", "", nil, fmt.Errorf("path %q must not end with /", resource)
	}
	names := map[string]bool{}
	parts := strings.Split(resource[1:], "/")
	for i, p := range parts {
		switch {
		case p == "":
			return "", "", nil, fmt.Errorf("path %q has an empty segment", resource)
		case strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}"):
			name := p[1 : len(p)-1]
			kind := segParam
			if n, ok := strings.CutSuffix(name, "+"); ok {
				if i != len(parts)-1 {
					return "", "", nil, fmt.Errorf("greedy %s must be the last segment of %q", p, resource)
				}
				name, kind = n, segGreedy
			}
			if !isParamName(name) {
				return "", "", nil, fmt.Errorf("bad path parameter %s in %q", p, resource)
			}
			if names[name] {
				return "", "", nil, fmt.Errorf("path parameter {%s} appears twice in %q", name, resource)
			}
			names[name] = true
			segs = append(segs, segment{kind: kind, text: name})
		case strings.ContainsAny(p, "{}?#% "):
			return "", "", nil, fmt.Errorf("bad path segment %q in %q", p, resource)
		default:
			segs = append(segs, segment{kind: segLiteral, text: p})
		}
	}
	return method, resource, segs, nil
}

func isParamName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '-' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// shape is the route's identity for duplicate detection: parameter names do
// not tell two routes apart.
func shape(method string, segs []segment) string {
	var b strings.Builder
	b.WriteString(method)
	b.WriteByte(' ')
	for _, s := range segs {
		b.WriteByte('/')
		switch s.kind {
		case segLiteral:
			b.WriteString(s.text)
		case segParam:
			b.WriteString("{}")
		case segGreedy:
			b.WriteString("{+}")
		}
	}
	return b.String()
}

// resourceID is a stable stand-in for API Gateway's resource id.
func resourceID(resource string) string {
	h := fnv.New32a()
	h.Write([]byte(resource))
	id := strconv.FormatUint(uint64(h.Sum32()%2176782336), 36) // < 36^6
	return strings.Repeat("0", 6-len(id)) + id
}

// matchSegs reports whether path (starting with "/", no trailing slash but
// for the root) matches segs.
func matchSegs(segs []segment, path string) bool {
	rest := path[1:]
	for _, s := range segs {
		if s.kind == segGreedy {
			// {proxy+} needs at least one segment: /v1/{proxy+} does not
			// match /v1.
			return rest != "" && !strings.HasPrefix(rest, "/")
		}
		seg, tail, more := strings.Cut(rest, "/")
		if seg == "" || (s.kind == segLiteral && seg != s.text) {
			return false
		}
		if more && tail == "" {
			return false
		}
		rest = tail
	}
	return rest == ""
}

// pathParams extracts the parameters of a route that matched path.
func pathParams(segs []segment, path string) map[string]string {
	var params map[string]string
	rest := path[1:]
	for _, s := range segs {
		if s.kind == segGreedy {
			if params == nil {
				params = make(map[string]string, 1)
			}
			params[s.text] = rest
			return params
		}
		seg, tail, _ := strings.Cut(rest, "/")
		if s.kind == segParam {
			if params == nil {
				params = make(map[string]string, 2)
			}
			params[s.text] = seg
		}
		rest = tail
	}
	return params
}

// outranks reports whether route a is preferred to route b when both match
// a request: segment by segment an exact match beats a {param}, which beats a
// greedy {proxy+}; then a route for the request's method beats ANY; the
// HTTP API $default route comes last.
func outranks(a, b *route) bool {
	if a.catchAll != b.catchAll {
		return b.catchAll
	}
	for i := 0; i < len(a.segs) && i < len(b.segs); i++ {
		if a.segs[i].kind != b.segs[i].kind {
			return a.segs[i].kind < b.segs[i].kind
		}
	}
	if len(a.segs) != len(b.segs) {
		return len(a.segs) > len(b.segs)
	}
	return a.method != "ANY" && b.method == "ANY"
}

// match finds the route for method and path (relative to the base path).
func (a *api) match(method, path string) *route {
	if len(path) > 1 && path[len(path)-1] == '/' {
		path = path[:len(path)-1]
	}
	var best *route
	for _, rt := range a.routes {
		if !rt.catchAll {
			if rt.method != method && rt.method != "ANY" {
				continue
			}
			if !matchSegs(rt.segs, path) {
				continue
			}
		}
		if best == nil || outranks(rt, best) {
			best = rt
		}
	}
	return best
}

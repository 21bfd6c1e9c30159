package gateway

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// refKind is where a value comes from: the one vocabulary behind identity
// sources, request parameter mappings and MOCK body templates.
type refKind uint8

const (
	refHeader     refKind = iota // method.request.header.X / $request.header.X
	refQuery                     // method.request.querystring.X / $request.querystring.X
	refPath                      // method.request.path.X / $request.path.X
	refStageVar                  // stageVariables.X / $stageVariables.X
	refContext                   // context.X / $context.X (a known $context variable)
	refAuthorizer                // context.authorizer.X, principalId included
	refStatic                    // 'value' (REST) or a plain value (HTTP API)
	// refAuthorizerJSON is $context.authorizer alone in a MOCK body.
	refAuthorizerJSON
)

// valueRef is a parsed reference to a request value.
type valueRef struct {
	kind refKind
	name string // header, parameter, variable or key name; the value for refStatic
}

// contextVars are the $context variables a reference may name. true marks
// those only HTTP APIs have.
var contextVars = map[string]bool{
	"accountId": false, "apiId": false, "domainName": false, "domainPrefix": false,
	"httpMethod": false, "path": false, "protocol": false, "requestId": false,
	"resourceId": false, "resourcePath": false, "stage": false,
	"identity.sourceIp": false, "identity.userAgent": false,
	"requestTime": false, "requestTimeEpoch": false,
	"routeKey": true,
}

// refSyntax says which references a setting accepts.
type refSyntax struct {
	httpAPI    bool // $request… syntax instead of method.request…
	path       bool // path parameters
	authorizer bool // the authorizer's output
	static     bool // literal values
}

// parseRef parses one reference in REST or HTTP API syntax.
func parseRef(s string, syn refSyntax) (valueRef, error) {
	if s == "" {
		return valueRef{}, errors.New("empty entry")
	}
	if syn.httpAPI {
		if !strings.HasPrefix(s, "$") {
			if syn.static {
				return valueRef{kind: refStatic, name: s}, nil
			}
			return valueRef{}, fmt.Errorf("%q is not $request.header.X, $request.querystring.X, $context.X or $stageVariables.X", s)
		}
		s = s[1:]
		if rest, ok := strings.CutPrefix(s, "request."); ok {
			return parseRequestRef(rest, syn)
		}
	} else {
		if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
			if syn.static {
				return valueRef{kind: refStatic, name: s[1 : len(s)-1]}, nil
			}
			return valueRef{}, fmt.Errorf("static value %s not allowed here", s)
		}
		if rest, ok := strings.CutPrefix(s, "method.request."); ok {
			return parseRequestRef(rest, syn)
		}
	}
	if name, ok := strings.CutPrefix(s, "stageVariables."); ok {
		if !isVarName(name) {
			return valueRef{}, fmt.Errorf("bad stage variable name %q", name)
		}
		return valueRef{kind: refStageVar, name: name}, nil
	}
	if name, ok := strings.CutPrefix(s, "context."); ok {
		if key, ok := strings.CutPrefix(name, "authorizer."); ok {
			if !syn.authorizer {
				return valueRef{}, fmt.Errorf("%s: the authorizer's output is not available here", s)
			}
			if key == "" {
				return valueRef{}, errors.New("empty authorizer context key")
			}
			return valueRef{kind: refAuthorizer, name: key}, nil
		}
		httpOnly, known := contextVars[name]
		if !known || (httpOnly && !syn.httpAPI) {
			return valueRef{}, fmt.Errorf("unsupported context variable %q", name)
		}
		return valueRef{kind: refContext, name: name}, nil
	}
	if syn.httpAPI {
		return valueRef{}, fmt.Errorf("%q is not $request.header.X, $request.querystring.X, $context.X or $stageVariables.X", "$"+s)
	}
	return valueRef{}, fmt.Errorf("%q is not method.request.header.X, method.request.querystring.X, context.X or stageVariables.X", s)
}

func parseRequestRef(rest string, syn refSyntax) (valueRef, error) {
	where, name, ok := strings.Cut(rest, ".")
	if !ok || name == "" {
		return valueRef{}, fmt.Errorf("%q names no parameter", rest)
	}
	switch where {
	case "header":
		if !isToken(name) {
			return valueRef{}, fmt.Errorf("bad header name %q", name)
		}
		return valueRef{kind: refHeader, name: name}, nil
	case "querystring":
		return valueRef{kind: refQuery, name: name}, nil
	case "path":
		if syn.path {
			return valueRef{kind: refPath, name: name}, nil
		}
	}
	return valueRef{}, fmt.Errorf("unsupported request parameter location %q", where)
}

// parseIdentitySource parses an authorizer's comma-separated identity
// sources.
func parseIdentitySource(s string, httpAPI bool) ([]valueRef, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var refs []valueRef
	seen := map[string]bool{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		ref, err := parseRef(part, refSyntax{httpAPI: httpAPI})
		if err != nil {
			return nil, err
		}
		if seen[part] {
			return nil, fmt.Errorf("%s listed twice", part)
		}
		seen[part] = true
		refs = append(refs, ref)
	}
	return refs, nil
}

// resolve returns the value ref names in rq, and whether it is present.
func (rq *request) resolve(ref valueRef) (string, bool) {
	switch ref.kind {
	case refHeader:
		// API Gateway matches header names case-insensitively. Of repeated
		// headers it takes the last value, as in the events' headers map.
		vs := rq.r.Header.Values(ref.name)
		if len(vs) == 0 {
			return "", false
		}
		return vs[len(vs)-1], true
	case refQuery:
		vs := rq.queryValues()[ref.name]
		if len(vs) == 0 {
			return "", false
		}
		if rq.api.httpAPI {
			return strings.Join(vs, ","), true
		}
		return vs[len(vs)-1], true
	case refPath:
		v, ok := rq.pathParams()[ref.name]
		return v, ok
	case refStageVar:
		v, ok := rq.api.stageVars[ref.name]
		return v, ok
	case refContext:
		return rq.contextVar(ref.name)
	case refAuthorizer:
		if rq.auth == nil {
			return "", false
		}
		if ref.name == "principalId" {
			return rq.auth.principalID, true
		}
		v, ok := rq.auth.strContext[ref.name]
		return v, ok
	case refStatic:
		return ref.name, true
	case refAuthorizerJSON:
		return string(rq.appendAuthorizerJSON(nil)), true
	}
	return "", false
}

// contextVar returns one of API Gateway's $context variables.
func (rq *request) contextVar(name string) (string, bool) {
	switch name {
	case "accountId":
		return rq.api.accountID, true
	case "apiId":
		return rq.api.apiID, true
	case "domainName":
		return rq.r.Host, rq.r.Host != ""
	case "domainPrefix":
		return domainPrefix(rq.r.Host), rq.r.Host != ""
	case "httpMethod":
		return rq.r.Method, true
	case "path":
		return rq.r.URL.Path, true
	case "protocol":
		return rq.r.Proto, true
	case "requestId":
		return rq.id, true
	case "resourceId":
		return rq.route.resourceID, true
	case "resourcePath":
		return rq.route.resource, true
	case "routeKey":
		return rq.route.key, true
	case "stage":
		return rq.api.stage, true
	case "identity.sourceIp":
		return sourceIP(rq.r.RemoteAddr), true
	case "identity.userAgent":
		ua := rq.r.UserAgent()
		return ua, ua != ""
	case "requestTime":
		return rq.start.UTC().Format(clfTime), true
	case "requestTimeEpoch":
		return strconv.FormatInt(rq.start.UnixMilli(), 10), true
	}
	return "", false
}

// clfTime is the format of $context.requestTime: "09/Apr/2015:12:34:56 +0000".
const clfTime = "02/Jan/2006:15:04:05 -0700"

func sourceIP(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}

func domainPrefix(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	p, _, _ := strings.Cut(host, ".")
	return p
}

func isVarName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// isToken reports whether s is an HTTP token (a valid header name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c > ' ' && c < 0x7f && !strings.ContainsRune("\"(),/:;<=>?@[\\]{}", rune(c))) {
			return false
		}
	}
	return true
}

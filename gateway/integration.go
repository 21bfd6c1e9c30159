package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// integration serves a request that passed the authorizer stage.
type integration interface {
	serve(w http.ResponseWriter, rq *request)
}

// maxPayload is API Gateway's request payload limit (10 MB).
const maxPayload = 10 << 20

// ---- MOCK ----

type mockIntegration struct {
	status  int
	headers http.Header
	body    template
	static  []byte // the body when it references nothing
}

func compileMock(a *api, rt *route, c *MockResponse, path string) (*mockIntegration, error) {
	m := &mockIntegration{status: http.StatusOK, headers: http.Header{}}
	if c == nil {
		c = &MockResponse{}
	}
	if c.StatusCode != 0 {
		if c.StatusCode < 100 || c.StatusCode > 599 {
			return nil, errAt(path+".statusCode", "%d: must be 100..599", c.StatusCode)
		}
		m.status = c.StatusCode
	}
	for _, k := range slices.Sorted(maps.Keys(c.Headers)) {
		if !isToken(k) {
			return nil, errAt(path+".headers."+k, "bad header name")
		}
		m.headers.Set(k, c.Headers[k])
	}
	if m.headers.Get("Content-Type") == "" {
		m.headers.Set("Content-Type", "application/json")
	}
	body, err := parseTemplate(c.Body, a.httpAPI, rt.authorizer != nil)
	if err != nil {
		return nil, errAt(path+".body", "%v", err)
	}
	m.body = body
	if len(body.parts) == 1 && body.parts[0].ref == nil {
		m.static = []byte(body.parts[0].lit)
	} else if len(body.parts) == 0 {
		m.static = []byte{}
	}
	return m, nil
}

func (m *mockIntegration) serve(w http.ResponseWriter, rq *request) {
	h := w.Header()
	for k, vs := range m.headers {
		h[k] = vs
	}
	w.WriteHeader(m.status)
	// A MOCK never reads the body; the server drains what it can.
	if m.static != nil {
		w.Write(m.static)
		return
	}
	bp := rq.g.buffers.Get().(*[]byte)
	*bp = m.body.render((*bp)[:0], rq)
	w.Write(*bp)
	if cap(*bp) <= 64<<10 {
		rq.g.buffers.Put(bp)
	}
}

// ---- HANDLER ----

// handlerIntegration calls an in-process http.Handler with the request, its
// path relative to the API's base path, and the authorizer's output in its
// context (AuthorizerFromContext).
type handlerIntegration struct {
	name    string
	cfgPath string
	h       http.Handler // bound by New
}

func (hi *handlerIntegration) serve(w http.ResponseWriter, rq *request) {
	r := rq.r.WithContext(context.WithValue(rq.r.Context(), requestKey{}, rq))
	if rq.api.basePath != "" {
		u := *r.URL
		u.Path = rq.apiPath
		u.RawPath = ""
		r.URL = &u
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxPayload)
	hi.h.ServeHTTP(w, r)
}

// ---- AWS_PROXY ----

// lambdaProxy is a Lambda proxy integration.
type lambdaProxy struct {
	fnCfg   LambdaFunction
	cfgPath string
	timeout time.Duration
	fn      *function // bound by New
}

func (lp *lambdaProxy) serve(w http.ResponseWriter, rq *request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, rq.r.Body, maxPayload))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			rq.detail = "request body over 10 MB"
			rq.writeError(w, errPayloadTooLarge)
			return
		}
		rq.detail = "read request body: " + err.Error()
		rq.writeError(w, errIntegrationFailure)
		return
	}
	var event any
	if rq.api.httpAPI {
		event = rq.httpProxyEvent(body)
	} else {
		event = rq.restProxyEvent(body)
	}
	payload, err := json.Marshal(event)
	if err != nil {
		rq.detail = "encode proxy event: " + err.Error()
		rq.writeError(w, errIntegrationFailure)
		return
	}
	ctx, cancel := context.WithTimeout(rq.r.Context(), lp.timeout)
	defer cancel()
	start := time.Now()
	out, err := lp.fn.invoke(ctx, payload)
	rq.integrationLatency = time.Since(start)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			rq.detail = fmt.Sprintf("integration timed out after %s", lp.timeout)
			rq.writeError(w, errIntegrationTimeout)
			return
		}
		rq.detail = "integration function failed: " + truncate(functionErrorMessage(err), 200)
		rq.writeError(w, errIntegrationFailure)
		return
	}
	var resp proxyResponse
	if rq.api.httpAPI {
		resp, err = parseV2ProxyResponse(out)
	} else {
		resp, err = parseRESTProxyResponse(out)
	}
	if err != nil {
		// "Malformed Lambda proxy response": 502 on REST APIs.
		rq.detail = err.Error()
		rq.writeError(w, errIntegrationFailure)
		return
	}
	resp.write(w)
}

// proxyResponse is a Lambda proxy answer, checked.
type proxyResponse struct {
	status  int
	headers http.Header
	body    []byte
}

func (p proxyResponse) write(w http.ResponseWriter) {
	h := w.Header()
	for k, vs := range p.headers {
		h[k] = vs
	}
	h["Content-Length"] = []string{strconv.Itoa(len(p.body))}
	w.WriteHeader(p.status)
	w.Write(p.body)
}

var errMalformedProxy = errors.New("gateway: malformed Lambda proxy response")

// parseRESTProxyResponse reads {statusCode, headers, multiValueHeaders, body,
// isBase64Encoded}. A statusCode that is missing or not a status, a body that
// is not a string, or bad base64 make it malformed.
func parseRESTProxyResponse(raw []byte) (proxyResponse, error) {
	var o struct {
		StatusCode        *int                `json:"statusCode"`
		Headers           map[string]string   `json:"headers"`
		MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
		Body              *string             `json:"body"`
		IsBase64Encoded   bool                `json:"isBase64Encoded"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return proxyResponse{}, fmt.Errorf("%w: %w", errMalformedProxy, err)
	}
	if o.StatusCode == nil || *o.StatusCode < 100 || *o.StatusCode > 599 {
		return proxyResponse{}, fmt.Errorf("%w: no valid statusCode", errMalformedProxy)
	}
	return buildProxyResponse(*o.StatusCode, o.Headers, o.MultiValueHeaders, nil, o.Body, o.IsBase64Encoded)
}

// parseV2ProxyResponse reads an HTTP API payload 2.0 answer. Without a
// statusCode, API Gateway takes valid JSON as the body of a 200
// application/json response.
func parseV2ProxyResponse(raw []byte) (proxyResponse, error) {
	if !json.Valid(raw) {
		return proxyResponse{}, fmt.Errorf("%w: not JSON", errMalformedProxy)
	}
	var probe map[string]json.RawMessage
	if json.Unmarshal(raw, &probe) != nil || probe["statusCode"] == nil {
		return proxyResponse{status: 200, headers: http.Header{"Content-Type": {"application/json"}}, body: raw}, nil
	}
	var o struct {
		StatusCode      int               `json:"statusCode"`
		Headers         map[string]string `json:"headers"`
		Body            *string           `json:"body"`
		IsBase64Encoded bool              `json:"isBase64Encoded"`
		Cookies         []string          `json:"cookies"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return proxyResponse{}, fmt.Errorf("%w: %w", errMalformedProxy, err)
	}
	if o.StatusCode < 100 || o.StatusCode > 599 {
		return proxyResponse{}, fmt.Errorf("%w: no valid statusCode", errMalformedProxy)
	}
	return buildProxyResponse(o.StatusCode, o.Headers, nil, o.Cookies, o.Body, o.IsBase64Encoded)
}

// buildProxyResponse merges headers and multiValueHeaders as API Gateway
// does (a key in both takes the multiValueHeaders values) and decodes the
// body.
func buildProxyResponse(status int, single map[string]string, multi map[string][]string, cookies []string, body *string, b64 bool) (proxyResponse, error) {
	h := http.Header{}
	for k, v := range single {
		if _, ok := multi[k]; !ok {
			h.Set(k, v)
		}
	}
	for k, vs := range multi {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for _, c := range cookies {
		h.Add("Set-Cookie", c)
	}
	p := proxyResponse{status: status, headers: h}
	if body != nil {
		if b64 {
			b, err := base64.StdEncoding.DecodeString(*body)
			if err != nil {
				return proxyResponse{}, fmt.Errorf("%w: body is not base64: %w", errMalformedProxy, err)
			}
			p.body = b
		} else {
			p.body = []byte(*body)
		}
	}
	return p, nil
}

// ---- HTTP_PROXY ----

type targetKind uint8

const (
	targetHeader targetKind = iota
	targetQuery
	targetPath // a {name} of the URI; name "" with HTTP API overwrite:path
)

type mappingOp uint8

const (
	opSet mappingOp = iota
	opAppend
	opRemove
)

// paramMapping is one requestParameters entry.
type paramMapping struct {
	target targetKind
	op     mappingOp
	name   string
	src    valueRef
}

// httpProxy forwards the request to a URI, as an HTTP_PROXY integration: the
// method, headers (minus hop-by-hop ones), query and body go through, the
// mappings are applied, and the response streams back.
type httpProxy struct {
	uriParts []uriPart // the URI split around its {name} placeholders
	mappings []paramMapping
	timeout  time.Duration
	cfgPath  string
	proxy    *httputil.ReverseProxy // bound by New
}

type uriPart struct {
	lit    string
	param  string // placeholder name; "" for a literal part
	greedy bool   // {proxy+} route parameter: keeps its slashes
}

func compileHTTPProxy(a *api, rt *route, c *Integration, path string, timeout time.Duration) (*httpProxy, error) {
	if c.URI == "" {
		return nil, errAt(path+".uri", "required for HTTP_PROXY")
	}
	p := &httpProxy{timeout: timeout, cfgPath: path}
	for _, target := range slices.Sorted(maps.Keys(c.RequestParameters)) {
		m, err := parseMapping(a, rt, target, c.RequestParameters[target])
		if err != nil {
			return nil, errAt(path+".requestParameters."+target, "%v", err)
		}
		p.mappings = append(p.mappings, m)
	}
	params := map[string]bool{}
	greedy := map[string]bool{}
	for _, s := range rt.segs {
		params[s.text] = true
		greedy[s.text] = s.kind == segGreedy
	}
	for _, m := range p.mappings {
		if m.target == targetPath && m.name != "" {
			params[m.name] = true
		}
	}
	scheme, rest, ok := strings.Cut(c.URI, "://")
	authority, _, _ := strings.Cut(rest, "/")
	if !ok || (scheme != "http" && scheme != "https") || authority == "" || strings.ContainsAny(authority, "{}") {
		return nil, errAt(path+".uri", "%q is not an http(s) URL", c.URI)
	}
	if q := strings.IndexByte(c.URI, '?'); q >= 0 && strings.ContainsAny(c.URI[q:], "{}") {
		return nil, errAt(path+".uri", "placeholders go in the path, not the query")
	}
	s := c.URI
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			p.uriParts = append(p.uriParts, uriPart{lit: s})
			break
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return nil, errAt(path+".uri", "unclosed { in %q", c.URI)
		}
		name := strings.TrimSuffix(s[i+1:i+j], "+")
		if !params[name] {
			return nil, errAt(path+".uri", "{%s} is neither a path parameter of %q nor an integration.request.path mapping", name, rt.key)
		}
		p.uriParts = append(p.uriParts, uriPart{lit: s[:i]}, uriPart{param: name, greedy: greedy[name]})
		s = s[i+j+1:]
	}
	probe := p.buildURI(func(string) string { return "x" })
	if _, err := url.Parse(probe); err != nil {
		return nil, errAt(path+".uri", "%v", err)
	}
	return p, nil
}

// parseMapping parses one requestParameters entry, in the API's syntax.
func parseMapping(a *api, rt *route, target, source string) (paramMapping, error) {
	var m paramMapping
	if a.httpAPI {
		op, loc, ok := strings.Cut(target, ":")
		if !ok {
			return m, errors.New("target must be {overwrite|append|remove}:{header|querystring}.X or overwrite:path")
		}
		switch op {
		case "overwrite":
			m.op = opSet
		case "append":
			m.op = opAppend
		case "remove":
			m.op = opRemove
		default:
			return m, fmt.Errorf("unknown operation %q", op)
		}
		switch {
		case loc == "path":
			if m.op != opSet {
				return m, errors.New("only overwrite:path")
			}
			m.target = targetPath
		case strings.HasPrefix(loc, "header."):
			m.target, m.name = targetHeader, loc[len("header."):]
		case strings.HasPrefix(loc, "querystring."):
			m.target, m.name = targetQuery, loc[len("querystring."):]
		default:
			return m, fmt.Errorf("unknown target %q", loc)
		}
	} else {
		loc, ok := strings.CutPrefix(target, "integration.request.")
		where, name, ok2 := strings.Cut(loc, ".")
		if !ok || !ok2 || name == "" {
			return m, errors.New("target must be integration.request.{header|querystring|path}.X")
		}
		m.name = name
		switch where {
		case "header":
			m.target = targetHeader
		case "querystring":
			m.target = targetQuery
		case "path":
			m.target = targetPath
		default:
			return m, fmt.Errorf("unknown target location %q", where)
		}
	}
	if m.target == targetHeader && !isToken(m.name) {
		return m, fmt.Errorf("bad header name %q", m.name)
	}
	if m.op == opRemove {
		return m, nil
	}
	src, err := parseRef(source, refSyntax{httpAPI: a.httpAPI, path: true, authorizer: true, static: true})
	if err != nil {
		return m, err
	}
	if src.kind == refAuthorizer && rt.authorizer == nil {
		return m, errors.New("the route has no authorizer")
	}
	if src.kind == refPath && !slices.ContainsFunc(rt.segs, func(s segment) bool { return s.kind != segLiteral && s.text == src.name }) {
		return m, fmt.Errorf("%q has no path parameter %q", rt.key, src.name)
	}
	m.src = src
	return m, nil
}

// buildURI fills the URI template.
func (p *httpProxy) buildURI(value func(name string) string) string {
	var b strings.Builder
	for _, part := range p.uriParts {
		if part.param == "" {
			b.WriteString(part.lit)
			continue
		}
		v := value(part.param)
		if part.greedy {
			segs := strings.Split(v, "/")
			for i, s := range segs {
				segs[i] = url.PathEscape(s)
			}
			b.WriteString(strings.Join(segs, "/"))
		} else {
			b.WriteString(url.PathEscape(v))
		}
	}
	return b.String()
}

// proxyPlan is what Rewrite applies to the outbound request.
type proxyPlan struct {
	target *url.URL
	ops    []resolvedMapping
	timer  *time.Timer
}

type resolvedMapping struct {
	m     *paramMapping
	value string
}

// errIntegrationTimedOut is the cause set when the upstream's response
// headers do not come within the integration timeout.
var errIntegrationTimedOut = errors.New("gateway: integration timed out")

func (p *httpProxy) serve(w http.ResponseWriter, rq *request) {
	plan := &proxyPlan{}
	pathValues := map[string]string{}
	overwritePath := ""
	for i := range p.mappings {
		m := &p.mappings[i]
		v, ok := "", true
		if m.op != opRemove {
			v, ok = rq.resolve(m.src)
		}
		if !ok {
			continue // a mapping from an absent value sets nothing
		}
		switch {
		case m.target == targetPath && m.name == "":
			overwritePath = v
		case m.target == targetPath:
			pathValues[m.name] = v
		default:
			plan.ops = append(plan.ops, resolvedMapping{m: m, value: v})
		}
	}
	raw := p.buildURI(func(name string) string {
		if v, ok := pathValues[name]; ok {
			return v
		}
		return rq.pathParams()[name]
	})
	target, err := url.Parse(raw)
	if err != nil {
		rq.detail = "integration URI: " + err.Error()
		rq.writeError(w, errIntegrationFailure)
		return
	}
	if overwritePath != "" {
		target.Path, target.RawPath = overwritePath, ""
	}
	// The client's query goes through, after the URI's own parameters.
	if rq.r.URL.RawQuery != "" {
		if target.RawQuery != "" {
			target.RawQuery += "&"
		}
		target.RawQuery += rq.r.URL.RawQuery
	}
	plan.target = target
	rq.proxyPlan = plan

	// The timeout bounds the wait for the response headers; a streamed
	// body may then take its time.
	ctx, cancel := context.WithCancelCause(context.WithValue(rq.r.Context(), requestKey{}, rq))
	defer cancel(nil)
	plan.timer = time.AfterFunc(p.timeout, func() { cancel(errIntegrationTimedOut) })
	defer plan.timer.Stop()
	r := rq.r.WithContext(ctx)
	r.Body = http.MaxBytesReader(w, r.Body, maxPayload)
	start := time.Now()
	p.proxy.ServeHTTP(w, r)
	rq.integrationLatency = time.Since(start)
}

// newReverseProxy builds the one ReverseProxy all HTTP_PROXY integrations
// share; each request carries its plan in its context.
func newReverseProxy(transport http.RoundTripper) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Transport: transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			rq := pr.In.Context().Value(requestKey{}).(*request)
			plan := rq.proxyPlan
			pr.Out.URL = plan.target
			pr.Out.Host = ""
			pr.SetXForwarded()
			q := pr.Out.URL.Query()
			queryChanged := false
			for _, op := range plan.ops {
				switch op.m.target {
				case targetHeader:
					switch op.m.op {
					case opSet:
						pr.Out.Header.Set(op.m.name, op.value)
					case opAppend:
						pr.Out.Header.Add(op.m.name, op.value)
					case opRemove:
						pr.Out.Header.Del(op.m.name)
					}
				case targetQuery:
					queryChanged = true
					switch op.m.op {
					case opSet:
						q.Set(op.m.name, op.value)
					case opAppend:
						q.Add(op.m.name, op.value)
					case opRemove:
						q.Del(op.m.name)
					}
				}
			}
			if queryChanged {
				pr.Out.URL.RawQuery = q.Encode()
			}
			if !rq.api.httpAPI && rq.headerNames != nil {
				// A REST API forwards the client's spelling. Go's client
				// writes map keys as they are.
				for k, vs := range pr.Out.Header {
					if n := rq.headerName(k); n != k {
						delete(pr.Out.Header, k)
						pr.Out.Header[n] = vs
					}
				}
			}
		},
		ModifyResponse: func(resp *http.Response) error {
			rq := resp.Request.Context().Value(requestKey{}).(*request)
			rq.proxyPlan.timer.Stop()
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			rq := r.Context().Value(requestKey{}).(*request)
			if errors.Is(context.Cause(r.Context()), errIntegrationTimedOut) {
				rq.detail = "integration timed out"
				rq.writeError(w, errIntegrationTimeout)
				return
			}
			if r.Context().Err() != nil {
				rq.detail = "client went away"
				return
			}
			rq.detail = "integration failed: " + err.Error()
			rq.writeError(w, errIntegrationFailure)
		},
	}
}

// appendAuthorizerJSON appends what an AWS_PROXY integration gets as
// requestContext.authorizer, as JSON: the MOCK body $context.authorizer. It
// encodes the same object as restAuthorizerMap and v2AuthorizerDescription.
func (rq *request) appendAuthorizerJSON(dst []byte) []byte {
	if rq.auth == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, rq.auth.jsonHead...)
	if rq.auth.jsonTail != nil {
		dst = strconv.AppendInt(dst, rq.authLatency.Milliseconds(), 10)
		dst = append(dst, rq.auth.jsonTail...)
	}
	return dst
}

// encodeAuthorizerJSON encodes o for appendAuthorizerJSON, keys sorted as
// encoding/json sorts a map's: for a REST API the stringified context,
// principalId and integrationLatency (its value left out, to go between
// jsonHead and jsonTail); for an HTTP API {"lambda": context}.
func (o *authOutput) encodeAuthorizerJSON(httpAPI bool) {
	if httpAPI {
		lambda := o.context
		if lambda == nil {
			lambda = map[string]any{}
		}
		o.jsonHead = appendJSON(nil, map[string]any{"lambda": lambda})
		return
	}
	keys := slices.Collect(maps.Keys(o.strContext))
	for _, k := range []string{"principalId", "integrationLatency"} {
		if _, dup := o.strContext[k]; !dup {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	b := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSON(b, k)
		b = append(b, ':')
		switch k {
		case "integrationLatency":
			o.jsonHead, b = b, nil
		case "principalId":
			b = appendJSON(b, o.principalID)
		default:
			if o.context[k] == nil {
				b = append(b, "null"...)
			} else {
				b = appendJSON(b, o.strContext[k])
			}
		}
	}
	o.jsonTail = append(b, '}')
}

// appendJSON appends v encoded as encoding/json encodes it in a map value,
// without HTML escaping (as the Lambda runtime's encoder).
func appendJSON(dst []byte, v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return append(dst, "null"...)
	}
	return append(dst, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}

package gateway

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// api is an API compiled from its config: everything checked, parsed and
// defaulted once, so that serving a request parses nothing.
type api struct {
	name      string
	httpAPI   bool
	apiID     string
	region    string
	accountID string
	stage     string
	basePath  string // "" for the root, else "/x" (no trailing slash)
	stageVars map[string]string

	routes      []*route
	authorizers map[string]*authorizer
}

type route struct {
	key        string // "GET /pets/{id}" or "$default": the routeKey
	method     string // a verb or "ANY"; "" for $default
	resource   string // "/pets/{id}": the resource path template
	segs       []segment
	catchAll   bool // the HTTP API $default route
	resourceID string
	cfgPath    string // "apis[0].routes[1]", for errors

	authorizer *authorizer // nil: no authorization
	integ      integration

	obs *routeObserver // nil without metrics
}

// errAt builds the one error a bad config gets: the field's path, then
// what is wrong with it.
func errAt(path, format string, args ...any) error {
	return fmt.Errorf("gateway: %s: %s", path, fmt.Sprintf(format, args...))
}

var (
	stageName  = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	apiIDName  = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	regionName = regexp.MustCompile(`^[a-z0-9-]+$`)
	accountID  = regexp.MustCompile(`^[0-9]{12}$`)
	nameSyntax = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
)

// compile checks cfg and builds the APIs it describes, without binding
// functions or handlers (New does that with its Options).
func compile(cfg *Config) ([]*api, error) {
	if cfg == nil || len(cfg.APIs) == 0 {
		return nil, errors.New("gateway: apis: at least one API is required")
	}
	var apis []*api
	names := map[string]int{}
	bases := map[string]int{}
	for i := range cfg.APIs {
		path := fmt.Sprintf("apis[%d]", i)
		a, err := compileAPI(&cfg.APIs[i], path)
		if err != nil {
			return nil, err
		}
		if j, dup := names[a.name]; dup {
			return nil, errAt(path+".name", "%q is also the name of apis[%d]", a.name, j)
		}
		names[a.name] = i
		if j, dup := bases[a.basePath]; dup {
			return nil, errAt(path+".basePath", "%q is also the base path of apis[%d]", "/"+strings.TrimPrefix(a.basePath, "/"), j)
		}
		bases[a.basePath] = i
		apis = append(apis, a)
	}
	// The longest base path wins: /ai/v2 before /ai before the root.
	slices.SortStableFunc(apis, func(x, y *api) int { return len(y.basePath) - len(x.basePath) })
	return apis, nil
}

func compileAPI(c *API, path string) (*api, error) {
	a := &api{name: c.Name, stageVars: c.StageVariables}
	if c.Name == "" {
		return nil, errAt(path+".name", "required")
	}
	if !nameSyntax.MatchString(c.Name) {
		return nil, errAt(path+".name", "%q: use letters, digits, '.', '_' and '-'", c.Name)
	}
	switch c.Type {
	case "", "REST":
	case "HTTP":
		a.httpAPI = true
	default:
		return nil, errAt(path+".type", "%q: must be REST or HTTP", c.Type)
	}
	a.apiID = orDefault(c.APIID, c.Name)
	if !apiIDName.MatchString(a.apiID) {
		return nil, errAt(path+".apiId", "%q: use letters, digits, '_' and '-' (it goes into method ARNs)", a.apiID)
	}
	a.region = orDefault(c.Region, "us-east-1")
	if !regionName.MatchString(a.region) {
		return nil, errAt(path+".region", "%q is not a region name", a.region)
	}
	a.accountID = orDefault(c.AccountID, "123456789012")
	if !accountID.MatchString(a.accountID) {
		return nil, errAt(path+".accountId", "%q is not 12 digits", a.accountID)
	}
	a.stage = c.Stage
	switch {
	case a.stage == "" && a.httpAPI:
		a.stage = "$default"
	case a.stage == "":
		a.stage = "local"
	case a.stage == "$default" && a.httpAPI:
	case !stageName.MatchString(a.stage):
		return nil, errAt(path+".stage", "%q: use letters, digits, '_' and '-'", a.stage)
	}
	bp, err := normalizeBasePath(c.BasePath)
	if err != nil {
		return nil, errAt(path+".basePath", "%v", err)
	}
	a.basePath = bp
	for _, k := range slices.Sorted(maps.Keys(c.StageVariables)) {
		if !isVarName(k) {
			return nil, errAt(path+".stageVariables."+k, "stage variable names use letters, digits and '_'")
		}
	}

	a.authorizers = map[string]*authorizer{}
	for _, name := range slices.Sorted(maps.Keys(c.Authorizers)) {
		p := path + ".authorizers." + name
		if !nameSyntax.MatchString(name) || name == "NONE" {
			return nil, errAt(p, "bad authorizer name")
		}
		au, err := compileAuthorizer(a, c.Authorizers[name], p)
		if err != nil {
			return nil, err
		}
		au.name = name
		a.authorizers[name] = au
	}

	if len(c.Routes) == 0 {
		return nil, errAt(path+".routes", "at least one route is required")
	}
	shapes := map[string]int{}
	for i := range c.Routes {
		p := fmt.Sprintf("%s.routes[%d]", path, i)
		rt, err := compileRoute(a, &c.Routes[i], p)
		if err != nil {
			return nil, err
		}
		sh := rt.key
		if !rt.catchAll {
			sh = shape(rt.method, rt.segs)
		}
		if j, dup := shapes[sh]; dup {
			return nil, errAt(p+".route", "%q duplicates %s.routes[%d] (%q)", rt.key, path, j, c.Routes[j].Route)
		}
		shapes[sh] = i
		a.routes = append(a.routes, rt)
	}
	return a, nil
}

func normalizeBasePath(bp string) (string, error) {
	if bp == "" || bp == "/" {
		return "", nil
	}
	if !strings.HasPrefix(bp, "/") {
		return "", fmt.Errorf("%q must start with /", bp)
	}
	bp = strings.TrimSuffix(bp, "/")
	for seg := range strings.SplitSeq(bp[1:], "/") {
		if seg == "" || strings.ContainsAny(seg, "{}?#% ") {
			return "", fmt.Errorf("%q is not a plain path", bp)
		}
	}
	return bp, nil
}

// authFormat is the event and answer format an authorizer speaks.
type authFormat uint8

const (
	formatREST   authFormat = iota // REST TOKEN or REQUEST
	formatHTTPV1                   // HTTP API payload format 1.0
	formatHTTPV2                   // HTTP API payload format 2.0
)

func compileAuthorizer(a *api, c Authorizer, path string) (*authorizer, error) {
	au := &authorizer{api: a, cfgPath: path, fn: c.LambdaFunction}
	switch c.Type {
	case "TOKEN":
		if a.httpAPI {
			return nil, errAt(path+".type", "HTTP APIs have REQUEST authorizers only")
		}
		au.token = true
	case "REQUEST":
	case "":
		if !a.httpAPI {
			return nil, errAt(path+".type", "required: TOKEN or REQUEST")
		}
	default:
		return nil, errAt(path+".type", "%q: must be TOKEN or REQUEST", c.Type)
	}
	if err := checkFunction(c.LambdaFunction, path); err != nil {
		return nil, err
	}

	if a.httpAPI {
		switch c.PayloadFormatVersion {
		case "", "2.0":
			au.format = formatHTTPV2
		case "1.0":
			au.format = formatHTTPV1
		default:
			return nil, errAt(path+".payloadFormatVersion", "%q: must be 1.0 or 2.0", c.PayloadFormatVersion)
		}
		if c.EnableSimpleResponses && au.format != formatHTTPV2 {
			return nil, errAt(path+".enableSimpleResponses", "needs payloadFormatVersion 2.0")
		}
	} else {
		if c.PayloadFormatVersion != "" {
			return nil, errAt(path+".payloadFormatVersion", "HTTP APIs only")
		}
		if c.EnableSimpleResponses {
			return nil, errAt(path+".enableSimpleResponses", "HTTP APIs only (REST authorizers answer with an IAM policy)")
		}
	}
	au.simple = c.EnableSimpleResponses

	ttl := 300
	if a.httpAPI {
		ttl = 0
	}
	if c.AuthorizerResultTTLInSeconds != nil {
		ttl = *c.AuthorizerResultTTLInSeconds
	}
	if ttl < 0 || ttl > 3600 {
		return nil, errAt(path+".authorizerResultTtlInSeconds", "%d: must be 0..3600", ttl)
	}
	au.ttl = time.Duration(ttl) * time.Second

	sources, err := parseIdentitySource(c.IdentitySource, a.httpAPI)
	if err != nil {
		return nil, errAt(path+".identitySource", "%v", err)
	}
	au.sources = sources
	switch {
	case au.token && len(sources) != 1:
		return nil, errAt(path+".identitySource", "a TOKEN authorizer takes exactly one header, e.g. method.request.header.Authorization")
	case au.token && sources[0].kind != refHeader:
		return nil, errAt(path+".identitySource", "a TOKEN authorizer's identity source must be method.request.header.X")
	case len(sources) == 0 && ttl > 0:
		return nil, errAt(path+".identitySource", "required when caching is on (authorizerResultTtlInSeconds > 0): it is the cache key")
	}
	for _, s := range sources {
		if s.kind == refContext && s.name == "routeKey" {
			au.routeKeyInSources = true
		}
	}

	if c.IdentityValidationExpression != "" {
		if !au.token {
			return nil, errAt(path+".identityValidationExpression", "TOKEN authorizers only")
		}
		if _, err := regexp.Compile(c.IdentityValidationExpression); err != nil {
			return nil, errAt(path+".identityValidationExpression", "%v", err)
		}
		// API Gateway (Java) requires the whole token to match, like
		// String.matches: anchor the expression.
		au.validation = regexp.MustCompile(`^(?:` + c.IdentityValidationExpression + `)$`)
	}

	timeout := c.TimeoutSeconds
	maxTimeout := 29
	if a.httpAPI {
		maxTimeout = 10
	}
	if timeout == 0 {
		timeout = 10
	}
	if timeout < 1 || timeout > maxTimeout {
		return nil, errAt(path+".timeoutSeconds", "%d: must be 1..%d", c.TimeoutSeconds, maxTimeout)
	}
	au.timeout = time.Duration(timeout) * time.Second
	return au, nil
}

// checkFunction checks that exactly one way to run the function is given.
func checkFunction(f LambdaFunction, path string) error {
	n := 0
	for _, s := range []string{f.Function, f.Endpoint, f.Bootstrap} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return errAt(path+".function", "exactly one of function, endpoint and bootstrap is required")
	}
	if f.Endpoint != "" {
		u, err := url.Parse(f.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errAt(path+".endpoint", "%q is not an http(s) URL", f.Endpoint)
		}
		if f.FunctionName != "" && !nameSyntax.MatchString(f.FunctionName) {
			return errAt(path+".functionName", "%q is not a function name", f.FunctionName)
		}
		if f.MaxConcurrency < 0 || f.MaxConcurrency > 64 {
			return errAt(path+".maxConcurrency", "%d: must be 1..64", f.MaxConcurrency)
		}
	} else {
		if f.FunctionName != "" {
			return errAt(path+".functionName", "only with endpoint")
		}
		if f.MaxConcurrency != 0 {
			return errAt(path+".maxConcurrency", "only with endpoint")
		}
	}
	if f.Bootstrap == "" && f.PoolSize != 0 {
		return errAt(path+".poolSize", "only with bootstrap")
	}
	if f.PoolSize < 0 || f.PoolSize > 64 {
		return errAt(path+".poolSize", "%d: must be 1..64", f.PoolSize)
	}
	return nil
}

func compileRoute(a *api, c *Route, path string) (*route, error) {
	method, resource, segs, err := parseRouteKey(c.Route, a.httpAPI)
	if err != nil {
		if c.Route == "" {
			return nil, errAt(path+".route", "required, e.g. \"GET /pets/{id}\"")
		}
		return nil, errAt(path+".route", "%v", err)
	}
	rt := &route{key: c.Route, method: method, resource: resource, segs: segs, cfgPath: path}
	if c.Route == defaultRouteKey {
		rt.catchAll = true
		rt.resource = "/{proxy+}"
	}
	rt.resourceID = resourceID(rt.resource)
	switch c.Authorizer {
	case "", "NONE":
	default:
		au, ok := a.authorizers[c.Authorizer]
		if !ok {
			return nil, errAt(path+".authorizer", "no authorizer %q in this API", c.Authorizer)
		}
		rt.authorizer = au
	}
	integ, err := compileIntegration(a, rt, &c.Integration, path+".integration")
	if err != nil {
		return nil, err
	}
	rt.integ = integ
	return rt, nil
}

func compileIntegration(a *api, rt *route, c *Integration, path string) (integration, error) {
	only := func(field, set string) error {
		if set != "" {
			return errAt(path+"."+field, "not used by %s integrations", c.Type)
		}
		return nil
	}
	fnSet := c.Function + c.Endpoint + c.Bootstrap + c.FunctionName
	mapped := ""
	if len(c.RequestParameters) > 0 {
		mapped = "set"
	}
	resp := ""
	if c.Response != nil {
		resp = "set"
	}
	timeout, err := integrationTimeout(a, c, path)
	if err != nil {
		return nil, err
	}
	switch c.Type {
	case IntegrationMock:
		if err := firstErr(only("function", fnSet), only("uri", c.URI), only("requestParameters", mapped), only("handler", c.Handler)); err != nil {
			return nil, err
		}
		return compileMock(a, rt, c.Response, path+".response")
	case IntegrationHTTPProxy:
		if err := firstErr(only("function", fnSet), only("handler", c.Handler), only("response", resp)); err != nil {
			return nil, err
		}
		return compileHTTPProxy(a, rt, c, path, timeout)
	case IntegrationAWSProxy:
		if err := firstErr(only("uri", c.URI), only("requestParameters", mapped), only("handler", c.Handler), only("response", resp)); err != nil {
			return nil, err
		}
		if err := checkFunction(c.LambdaFunction, path); err != nil {
			return nil, err
		}
		return &lambdaProxy{fnCfg: c.LambdaFunction, cfgPath: path, timeout: timeout}, nil
	case IntegrationHandler:
		if err := firstErr(only("function", fnSet), only("uri", c.URI), only("requestParameters", mapped), only("response", resp)); err != nil {
			return nil, err
		}
		if c.Handler == "" {
			return nil, errAt(path+".handler", "required for HANDLER")
		}
		return &handlerIntegration{name: c.Handler, cfgPath: path}, nil
	case "":
		return nil, errAt(path+".type", "required: MOCK, HTTP_PROXY, AWS_PROXY or HANDLER")
	default:
		return nil, errAt(path+".type", "%q: must be MOCK, HTTP_PROXY, AWS_PROXY or HANDLER", c.Type)
	}
}

func integrationTimeout(a *api, c *Integration, path string) (time.Duration, error) {
	maxMs := 29000
	if a.httpAPI {
		maxMs = 30000
	}
	ms := c.TimeoutInMillis
	if ms == 0 {
		ms = maxMs
	}
	if ms < 50 || ms > maxMs {
		return 0, errAt(path+".timeoutInMillis", "%d: must be 50..%d", c.TimeoutInMillis, maxMs)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// firstErr returns the first non-nil error: a bad config gets one error.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

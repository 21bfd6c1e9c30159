package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aigate/aigate/gateway/lambdaemu"
	"github.com/aigate/aigate/policy"
)

// Options are what a Gateway needs besides its Config. The zero value is
// usable when the config names no in-process function or handler.
type Options struct {
	// Functions are the in-process Lambda functions that `function:` names,
	// e.g. "aigate-authorizer": lambda.NewHandler(fn) or any Invoker.
	Functions map[string]Invoker
	// FunctionConcurrency bounds the concurrent invocations of each
	// in-process function. 0 means 1, because lambda.NewHandler's Invoke
	// (aws-lambda-go v1.55.1) is not safe for concurrent use (see
	// function.invoke). Raise it for Invokers that return a slice they own.
	FunctionConcurrency int
	// Handlers are the in-process http.Handlers that HANDLER integrations
	// name. They find the authorizer's output with AuthorizerFromContext.
	Handlers map[string]http.Handler
	// Logger gets one line per request and the emulators' reports. Nil
	// means slog.Default().
	Logger *slog.Logger
	// Metrics registers the gateway's Prometheus metrics. Nil means no
	// metrics.
	Metrics prometheus.Registerer
	// Now is the clock of the result cache and of the events' times. Nil
	// means time.Now.
	Now func() time.Time
	// Transport carries HTTP_PROXY requests and invoke API calls to
	// `endpoint:` functions. Nil means http.DefaultTransport.
	Transport http.RoundTripper
	// EmulatorPath is the aws-lambda-rie executable for `bootstrap:`
	// functions. Empty means lambdaemu.FindEmulator: aws-lambda-rie in
	// PATH, else `go tool -n aws-lambda-rie` (inside the aigate module).
	EmulatorPath string
	// EmulatorOutput receives the emulators' and functions' output. Nil
	// discards it.
	EmulatorOutput io.Writer
	// CacheSize bounds each authorizer's result cache (entries). 0 means
	// 10000.
	CacheSize int
}

// Gateway serves the APIs of a Config. It is an http.Handler; build it with
// New and stop its emulator pools with Close.
type Gateway struct {
	apis   []*api // longest base path first
	log    *slog.Logger
	now    func() time.Time
	obs    *observer // nil without metrics
	pools  []*lambdaemu.Pool
	closer sync.Once
	// buffers hold MOCK bodies while they are rendered.
	buffers sync.Pool
}

// New builds the gateway for cfg: it validates cfg, binds the functions and
// handlers it names, and starts the emulator pools of `bootstrap:` functions.
// ctx bounds that startup work (finding the Lambda emulator), not the
// gateway's life.
func New(ctx context.Context, cfg *Config, opts Options) (*Gateway, error) {
	apis, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	g := &Gateway{apis: apis, log: opts.Logger, now: opts.Now}
	g.buffers.New = func() any { b := make([]byte, 0, 1024); return &b }
	if g.log == nil {
		g.log = slog.Default()
	}
	if g.now == nil {
		g.now = time.Now
	}
	if opts.Metrics != nil {
		g.obs = newObserver()
	}
	b := &binder{ctx: ctx, g: g, opts: opts, clients: map[string]*lambdaemu.Client{}, inProcess: map[string]*function{}}
	if err := b.bindAll(); err != nil {
		g.Close()
		return nil, err
	}
	// Registered last, so that a failed New leaves the registry as it was.
	if g.obs != nil {
		if err := g.obs.register(opts.Metrics); err != nil {
			g.Close()
			return nil, err
		}
	}
	return g, nil
}

// Close stops the emulator pools. The caller stops serving first
// (http.Server.Shutdown). It is safe to call more than once.
func (g *Gateway) Close() error {
	g.closer.Do(func() {
		for _, p := range g.pools {
			p.Close()
		}
	})
	return nil
}

// binder binds a compiled config to Options.
type binder struct {
	ctx       context.Context // New's: bounds the startup work
	g         *Gateway
	opts      Options
	clients   map[string]*lambdaemu.Client // by endpoint URL: one limit per emulator
	inProcess map[string]*function         // by name: one limit per function
	proxy     *httputil.ReverseProxy       // shared by the HTTP_PROXY integrations
	emulator  string                       // aws-lambda-rie, resolved on first need
}

func (b *binder) bindAll() error {
	cacheSize := b.opts.CacheSize
	if cacheSize <= 0 {
		cacheSize = 10000
	}
	for _, a := range b.g.apis {
		for _, name := range slices.Sorted(maps.Keys(a.authorizers)) {
			au := a.authorizers[name]
			fn, err := b.function(au.fn, au.cfgPath, au.timeout)
			if err != nil {
				return err
			}
			au.invoker = fn
			if au.ttl > 0 {
				au.cache = newResultCache(cacheSize)
			}
			au.obs = b.g.obs.authorizer(a.name, au.name)
		}
		for _, rt := range a.routes {
			rt.obs = b.g.obs.route(a.name, rt.key)
			switch in := rt.integ.(type) {
			case *lambdaProxy:
				fn, err := b.function(in.fnCfg, in.cfgPath, in.timeout)
				if err != nil {
					return err
				}
				in.fn = fn
			case *handlerIntegration:
				h, ok := b.opts.Handlers[in.name]
				if !ok || h == nil {
					return errAt(in.cfgPath+".handler", "no handler %q in Options.Handlers", in.name)
				}
				in.h = h
			case *httpProxy:
				if b.proxy == nil {
					b.proxy = newReverseProxy(b.opts.Transport)
				}
				in.proxy = b.proxy
			}
		}
	}
	return nil
}

// function binds a LambdaFunction: an in-process function, an endpoint
// client shared by every user of the endpoint, or a new emulator pool.
func (b *binder) function(f LambdaFunction, path string, timeout time.Duration) (*function, error) {
	switch {
	case f.Function != "":
		if fn, ok := b.inProcess[f.Function]; ok {
			return fn, nil
		}
		inv, ok := b.opts.Functions[f.Function]
		if !ok || inv == nil {
			return nil, errAt(path+".function", "no function %q in Options.Functions", f.Function)
		}
		n := max(b.opts.FunctionConcurrency, 1)
		fn := &function{inv: inv, sem: make(chan struct{}, n)}
		b.inProcess[f.Function] = fn
		return fn, nil
	case f.Endpoint != "":
		limit := max(f.MaxConcurrency, 1)
		c, ok := b.clients[f.Endpoint]
		if !ok {
			c = &lambdaemu.Client{URL: f.Endpoint, MaxConcurrency: limit, Transport: b.opts.Transport}
			b.clients[f.Endpoint] = c
		} else if c.MaxConcurrency != limit {
			return nil, errAt(path+".maxConcurrency", "%d, but another user of endpoint %s says %d: one emulator, one limit", limit, f.Endpoint, c.MaxConcurrency)
		}
		name := f.FunctionName
		if name == "" {
			name = "function"
		}
		return &function{inv: c.Function(name)}, nil
	default:
		ctx, cancel := context.WithTimeout(b.ctx, 2*time.Minute)
		defer cancel()
		if b.emulator == "" {
			b.emulator = b.opts.EmulatorPath
			if b.emulator == "" {
				var err error
				if b.emulator, err = lambdaemu.FindEmulator(ctx); err != nil {
					return nil, errAt(path+".bootstrap", "%v", err)
				}
			}
		}
		p := &lambdaemu.Pool{
			Bootstrap:    f.Bootstrap,
			Size:         max(f.PoolSize, 1),
			EmulatorPath: b.emulator,
			// The emulator's own timeout (whole seconds) backs up the
			// gateway's.
			Env:    []string{"AWS_LAMBDA_FUNCTION_TIMEOUT=" + strconv.Itoa(int(max(1, (timeout+time.Second-1)/time.Second)))},
			Output: b.opts.EmulatorOutput,
			Logger: b.g.log,
		}
		if err := p.Start(ctx); err != nil {
			return nil, errAt(path+".bootstrap", "%v", err)
		}
		b.g.pools = append(b.g.pools, p)
		return &function{inv: p}, nil
	}
}

// request is one request in flight through the gateway.
type request struct {
	g     *Gateway
	api   *api
	route *route
	r     *http.Request
	id    string    // x-amzn-RequestId (REST) or apigw-requestid (HTTP API)
	start time.Time // by Options.Now: for the events' times
	// extendedID is a REST API's x-amz-apigw-id, its
	// $context.extendedRequestId.
	extendedID string
	// headerNames are the header names as the client spelt them, when the
	// listener recorded them (nil otherwise); spelling maps their
	// canonical forms to them, built on first use.
	headerNames []string
	spelling    map[string]string

	apiPath      string            // the path relative to the base path, no trailing slash
	params       map[string]string // path parameters (nil when none), extracted on first use
	parsedParams bool
	query        url.Values // parsed on first use
	parsedQ      bool

	outcome            outcome
	auth               *authOutput // the authorizer's output, once allowed
	cache              cacheResult
	authLatency        time.Duration
	integrationLatency time.Duration
	detail             string // why, for the log; never a secret

	proxyPlan *proxyPlan

	// Kept here so that one allocation serves the whole request.
	sw    statusWriter
	attrs [16]slog.Attr
}

// pathParams returns the route's path parameters, nil when there are none.
func (rq *request) pathParams() map[string]string {
	if !rq.parsedParams {
		rq.parsedParams = true
		if !rq.route.catchAll {
			rq.params = pathParams(rq.route.segs, rq.apiPath)
		}
	}
	return rq.params
}

func (rq *request) queryValues() url.Values {
	if !rq.parsedQ {
		rq.parsedQ = true
		rq.query, _ = url.ParseQuery(rq.r.URL.RawQuery)
	}
	return rq.query
}

// methodARN is the methodArn (REST, HTTP 1.0) or routeArn (HTTP 2.0) of rq,
// with the path's actual values: arn:aws:execute-api:{region}:{account}:
// {apiId}/{stage}/{VERB}/{path}; the root ends in "/".
func (rq *request) methodARN() string {
	a := policy.MethodARN{
		Partition: "aws", Region: rq.api.region, AccountID: rq.api.accountID,
		APIID: rq.api.apiID, Stage: rq.api.stage, Method: rq.r.Method, Path: rq.apiPath[1:],
	}
	if rq.route.catchAll {
		a.Method, a.Path = policy.DefaultRoute, ""
	}
	return a.String()
}

// hasDotSegment reports whether path has a "." or ".." segment.
func hasDotSegment(path string) bool {
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// findAPI returns the API whose base path holds path, and the rest of path.
func (g *Gateway) findAPI(path string) (*api, string) {
	for _, a := range g.apis {
		if a.basePath == "" {
			return a, path
		}
		if rest, ok := strings.CutPrefix(path, a.basePath); ok && (rest == "" || rest[0] == '/') {
			if rest == "" {
				rest = "/"
			}
			return a, rest
		}
	}
	return nil, ""
}

// ServeHTTP serves one request: API by base path, route, authorizer,
// integration, then one log line.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rq := &request{g: g, r: r, start: g.now()}
	// Taken for every request, so that a later one on the connection finds
	// its own (see PreserveHeaderCase).
	rq.headerNames = takeHeaderNames(r)
	rq.sw.ResponseWriter = w
	sw := &rq.sw

	a, path := g.findAPI(r.URL.Path)
	if a == nil {
		rq.id = newRequestID()
		w.Header()[headerRequestID] = []string{rq.id}
		rq.detail = "no API under this base path"
		writeAPIError(sw, &noAPIError)
		g.finish(rq, sw, start)
		return
	}
	rq.api = a
	// A body over 10 MB is refused before anything else, the authorizer
	// included: API Gateway buffers the whole request first.
	if !rq.bufferBody() {
		if a.httpAPI {
			rq.id = newAPIGWID()
			w.Header()[headerHTTPRequestID] = []string{rq.id}
		} else {
			// The recorded refusal comes from the CloudFront edge in
			// front of API Gateway, without API Gateway's ids.
			rq.id = newRequestID()
		}
		rq.detail = "request body over 10 MB"
		rq.writeError(sw, errPayloadTooLarge)
		g.finish(rq, sw, start)
		return
	}
	h := w.Header()
	if a.httpAPI {
		// HTTP APIs name their request id apigw-requestid, in the shape of
		// REST's extended request id.
		rq.id = newAPIGWID()
		h[headerHTTPRequestID] = []string{rq.id}
	} else {
		rq.id, rq.extendedID = newRequestID(), newAPIGWID()
		h[headerRequestID] = []string{rq.id}
		h[headerExtendedID] = []string{rq.extendedID}
	}
	if len(path) > 1 && path[len(path)-1] == '/' {
		path = path[:len(path)-1]
	}
	rq.apiPath = path
	var rt *route
	// A path with dot segments ("/v1/../admin", also %2e%2e) matches no
	// route: its methodArn would pass a policy for /v1/* while a backend
	// that cleans paths serves /admin.
	if strings.HasPrefix(path, "/") && !hasDotSegment(path) {
		rt = a.match(r.Method, path)
	}
	if rt == nil {
		rq.detail = "no route"
		rq.writeError(sw, errNoRoute)
		g.finish(rq, sw, start)
		return
	}
	rq.route = rt
	if rt.authorizer != nil {
		rq.outcome = rt.authorizer.authorize(rq)
		rt.authorizer.obs.decided(rq.outcome, rq.cache)
		if rq.outcome != outcomeAllow {
			rq.writeError(sw, outcomeErrors[rq.outcome])
			g.finish(rq, sw, start)
			return
		}
	}
	rt.integ.serve(sw, rq)
	g.finish(rq, sw, start)
}

// finish writes the request's log line and metrics.
func (g *Gateway) finish(rq *request, sw *statusWriter, start time.Time) {
	elapsed := time.Since(start)
	status := sw.status
	if status == 0 {
		status = http.StatusOK
	}
	if rq.route != nil {
		rq.route.obs.served(status, elapsed, rq.integrationLatency)
	} else {
		g.obs.unrouted(rq.api, status, elapsed)
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	ctx := rq.r.Context()
	if !g.log.Enabled(ctx, level) {
		return
	}
	attrs := append(rq.attrs[:0],
		slog.String("request_id", rq.id),
		slog.String("method", rq.r.Method),
		slog.String("path", rq.r.URL.Path), // never the query: it may carry a key
	)
	if rq.api != nil {
		attrs = append(attrs, slog.String("api", rq.api.name))
	}
	if rq.route != nil {
		attrs = append(attrs, slog.String("route", rq.route.key))
		if au := rq.route.authorizer; au != nil {
			attrs = append(attrs,
				slog.String("authorizer", au.name),
				slog.String("auth", rq.outcome.String()),
				slog.String("auth_cache", rq.cache.String()),
				slog.Int64("auth_latency_us", rq.authLatency.Microseconds()),
			)
			if rq.auth != nil && rq.auth.principalID != "" {
				attrs = append(attrs, slog.String("principal_id", rq.auth.principalID))
			}
		}
	}
	attrs = append(attrs, slog.Int("status", status), slog.Int64("latency_us", elapsed.Microseconds()))
	if rq.detail != "" {
		attrs = append(attrs, slog.String("reason", rq.detail))
	}
	// The record is built by hand, without the caller's pc that
	// Logger.LogAttrs looks up on every call: the source line would always
	// be this one.
	rec := slog.NewRecord(time.Now(), level, "gateway: request", 0)
	rec.AddAttrs(attrs...)
	_ = g.log.Handler().Handle(ctx, rec)
}

// statusWriter remembers the status for the log line and metrics. It keeps
// the ResponseWriter's Flush (for streamed answers) and its Unwrap (for
// http.ResponseController).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// The request id headers, spelt as API Gateway sends them on the wire (Go
// would canonicalize x-amzn-RequestId to X-Amzn-Requestid): the keys are
// written into the header map as they are.
const (
	headerRequestID     = "x-amzn-RequestId"
	headerExtendedID    = "x-amz-apigw-id"
	headerHTTPRequestID = "apigw-requestid"
	headerErrorType     = "x-amzn-ErrorType"
)

// newAPIGWID returns an id in the shape of API Gateway's extended request
// ids and HTTP API request ids, e.g. "FiV9AHvHoAMFtsg=": 11 random bytes in
// padded base64.
func newAPIGWID() string {
	var b [11]byte
	a, c := rand.Uint64(), rand.Uint64()
	for i := range 8 {
		b[i] = byte(a >> (8 * i))
	}
	for i := range 3 {
		b[8+i] = byte(c >> (8 * i))
	}
	return base64.StdEncoding.EncodeToString(b[:])
}

// bufferBody makes sure the body is within API Gateway's 10 MB and reports
// whether it is. A declared Content-Length decides without reading; a body
// of unknown length (chunked) is read into memory up to the limit, as API
// Gateway buffers it, and served from there to the integration.
func (rq *request) bufferBody() bool {
	r := rq.r
	if r.ContentLength > maxPayload {
		return false
	}
	if r.ContentLength >= 0 || r.Body == nil || r.Body == http.NoBody {
		return true
	}
	buf, err := io.ReadAll(io.LimitReader(r.Body, maxPayload+1))
	if len(buf) > maxPayload {
		return false
	}
	var body io.Reader = bytes.NewReader(buf)
	if err != nil {
		// The client went away: the integration sees the same error.
		body = io.MultiReader(body, errorReader{err})
	}
	r2 := r.WithContext(r.Context())
	r2.Body = io.NopCloser(body)
	rq.r = r2
	return true
}

type errorReader struct{ err error }

func (e errorReader) Read([]byte) (int, error) { return 0, e.err }

// newRequestID returns a random UUID (version 4), the shape of API Gateway's
// request ids. It identifies requests; it is no secret, so math/rand/v2's
// per-thread generator serves.
func newRequestID() string {
	const hex = "0123456789abcdef"
	hi, lo := rand.Uint64(), rand.Uint64()
	hi = hi&^0xf000 | 0x4000         // version 4
	lo = lo&^(0xc<<60) | (0x8 << 60) // RFC 4122 variant
	var b [36]byte
	src := [2]uint64{hi, lo}
	j := 0
	for i := range 32 {
		if i == 8 || i == 12 || i == 16 || i == 20 {
			b[j] = '-'
			j++
		}
		word := src[i/16]
		shift := uint(60 - 4*(i%16))
		b[j] = hex[(word>>shift)&0xf]
		j++
	}
	return string(b[:])
}

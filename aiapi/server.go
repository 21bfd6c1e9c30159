package aiapi

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aigate/aigate/aiapi/messages"
	"github.com/aigate/aigate/aiapi/provider"
	"github.com/aigate/aigate/policy"
	"github.com/aigate/aigate/pricing"
	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
)

// Server is the AI API: an http.Handler serving /v1/chat/completions,
// /v1/embeddings, /v1/models and /v1/models/{id} (under any path prefix, such
// as a base path mapping). Safe for concurrent use.
type Server struct {
	cfg       Config
	routes    []route
	providers map[string]provider.Provider
	timeouts  map[string]time.Duration // per provider
	limiter   *quota.Limiter
	keys      *keyStatus    // nil: no revocation check
	tenants   *tenantLimits // nil: no tenant limits
	// unpriced counts requests settled at $0 for want of a price; nil
	// without Config.Metrics.
	unpriced prometheus.Counter
	log      *slog.Logger
}

// route is a compiled ModelRoute.
type route struct {
	ModelRoute
	glob bool
}

// New builds a Server. Providers are built here, by cfg.Registry; none is
// contacted. ctx bounds that startup work (loading a Bedrock provider's AWS
// config).
func New(ctx context.Context, cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:       cfg,
		providers: map[string]provider.Provider{},
		timeouts:  map[string]time.Duration{},
		limiter:   &quota.Limiter{Ledger: cfg.Ledger, TTL: cfg.ReservationTTL.Std(), Now: cfg.Now},
		log:       cfg.Logger,
	}
	if cfg.Keys != nil {
		s.keys = newKeyStatus(cfg.Keys, cfg.KeyStatusTTL.Std(), cfg.Now)
	}
	if cfg.Metrics != nil {
		s.unpriced = prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aigate_aiapi_unpriced_requests_total",
			Help: "Requests settled at $0 because their model has no price (see the pricing configuration).",
		})
		if err := cfg.Metrics.Register(s.unpriced); err != nil {
			return nil, fmt.Errorf("aiapi: metrics: %w", err)
		}
	}
	if cfg.Tenants != nil {
		s.tenants = &tenantLimits{tenants: cfg.Tenants, ttl: cfg.KeyStatusTTL.Std(), now: cfg.Now, entries: map[string]tenantEntry{}}
	}
	for _, m := range cfg.Models {
		s.routes = append(s.routes, route{ModelRoute: m, glob: strings.ContainsAny(m.Name, "*?")})
	}
	providers := cfg.Providers
	if _, ok := providers[ProviderEcho]; !ok && cfg.Registry[ProviderEcho] != nil {
		// The name "echo", when not defined, is the echo test model.
		providers = maps.Clone(providers)
		if providers == nil {
			providers = map[string]ProviderConfig{}
		}
		providers[ProviderEcho] = ProviderConfig{Type: ProviderEcho}
	}
	for name, pc := range providers {
		if _, ok := cfg.Upstreams[name]; ok {
			continue
		}
		p, err := cfg.newProvider(ctx, pc)
		if err != nil {
			return nil, fmt.Errorf("aiapi: providers.%s: %w", name, err)
		}
		s.providers[name] = p
		if pc.Timeout > 0 {
			s.timeouts[name] = pc.Timeout.Std()
		}
	}
	for name, p := range cfg.Upstreams {
		s.providers[name] = p
	}
	return s, nil
}

// newProvider builds one upstream by its type's factory, with its key
// looked up (LookupSecret) by the name apiKeyEnv gives. Errors name the
// variable, never its value.
func (c Config) newProvider(ctx context.Context, pc ProviderConfig) (provider.Provider, error) {
	factory := c.Registry[pc.Type]
	if factory == nil {
		return nil, fmt.Errorf("unknown type %q (want %s)", pc.Type, strings.Join(slices.Sorted(maps.Keys(c.Registry)), ", "))
	}
	ps := provider.Settings{
		BaseURL: pc.BaseURL, RefusedBetas: pc.RefusedBetas, MaxTokensField: pc.MaxTokensField,
		NoResponses: pc.NoResponses, Region: pc.Region, Endpoint: pc.Endpoint, Now: c.Now,
	}
	if pc.APIKeyEnv != "" {
		if c.LookupSecret == nil {
			return nil, fmt.Errorf("apiKeyEnv %s: this program resolves no keys (Config.LookupSecret)", pc.APIKeyEnv)
		}
		v, _ := c.LookupSecret(pc.APIKeyEnv)
		if ps.APIKey = strings.TrimSpace(v); ps.APIKey == "" {
			return nil, fmt.Errorf("environment variable %s is empty", pc.APIKeyEnv)
		}
	}
	return factory(ctx, ps)
}

// Run releases expired reservations now and then every ExpireInterval, until
// ctx ends: reservations of requests whose process died (kill -9, a Lambda
// timeout) give their tokens back. Run it once per process, beside serving.
func (s *Server) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.ExpireInterval.Std())
	defer t.Stop()
	for {
		s.ExpireReservations(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// ExpireReservations releases the reservations pending past their expiry
// and says how many; failures are logged as well as returned.
func (s *Server) ExpireReservations(ctx context.Context) (int, error) {
	n, err := s.limiter.ExpireReservations(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.ErrorContext(ctx, "aiapi: expire reservations", "error", err)
	case n > 0:
		s.log.InfoContext(ctx, "aiapi: released expired reservations", "count", n)
	}
	return n, err
}

// apiPath is the path from "/v1/" on, whatever prefix (stage, base path)
// precedes it.
func apiPath(p string) string {
	if i := strings.Index(p, "/v1/"); i >= 0 {
		return p[i:]
	}
	return p
}

// exchange is one request on its way through: what the log line reports.
type exchange struct {
	id     string
	start  time.Time
	caller *caller
	model  string
	status int
	usage  *quota.Entry
	err    error // why it failed, for the log; never shown to the caller
}

// ServeHTTP serves the AI API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := &exchange{id: "req_" + strings.ToLower(rand.Text()), start: s.cfg.Now()}
	sw := &statusWriter{ResponseWriter: w}
	defer s.logExchange(r, x, sw)
	sw.Header().Set("X-Request-Id", x.id)
	s.serve(sw, r, x)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, x *exchange) {
	ctxMap, _ := AuthorizerContext(r.Context())
	c, err := parseCaller(ctxMap)
	if err != nil {
		// Fail closed: nothing says who this is or what it may do.
		x.err = err
		writeError(w, http.StatusInternalServerError, typeServer, codeInternal, "", "The server is not configured to authorize this request.")
		return
	}
	x.caller = c
	if !s.keyUsable(w, r, x) {
		return
	}
	path := apiPath(r.URL.Path)
	switch {
	case path == "/v1/chat/completions":
		if allow(w, r, http.MethodPost) {
			s.serveProtocol(w, r, x, chatCompletions)
		}
	case path == "/v1/embeddings":
		if allow(w, r, http.MethodPost) {
			s.serveProtocol(w, r, x, embeddingsAPI)
		}
	case path == "/v1/responses":
		if allow(w, r, http.MethodPost) {
			s.serveProtocol(w, r, x, responsesAPI)
		}
	case strings.HasPrefix(path, "/v1/responses/") && len(path) > len("/v1/responses/"):
		if allow(w, r, http.MethodGet) {
			s.getResponse(w, r, x, strings.TrimPrefix(path, "/v1/responses/"))
		}
	case path == "/v1/messages":
		if allow(w, r, http.MethodPost) {
			s.serveProtocol(w, r, x, messagesAPI)
		}
	case path == "/v1/messages/count_tokens":
		if allow(w, r, http.MethodPost) {
			s.countTokens(w, r, x)
		}
	case path == "/v1/models":
		if allow(w, r, http.MethodGet) {
			s.listModels(w, r, c)
		}
	case strings.HasPrefix(path, "/v1/models/") && len(path) > len("/v1/models/"):
		if allow(w, r, http.MethodGet) {
			s.getModel(w, c, strings.TrimPrefix(path, "/v1/models/"))
		}
	default:
		writeError(w, http.StatusNotFound, typeInvalidRequest, codeUnknownURL, "",
			fmt.Sprintf("Unknown request URL: %s %s.", r.Method, path))
	}
}

func allow(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method {
		return true
	}
	w.Header().Set("Allow", method)
	writeError(w, http.StatusMethodNotAllowed, typeInvalidRequest, "method_not_allowed", "",
		fmt.Sprintf("%s is not allowed here; use %s.", r.Method, method))
	return false
}

// keyUsable refuses a caller whose credential expired or, for API keys, was
// revoked or replaced by a rotation since the authorizer (whose answer API
// Gateway caches) allowed it.
func (s *Server) keyUsable(w http.ResponseWriter, r *http.Request, x *exchange) bool {
	c := x.caller
	ok := c.expiresAt.IsZero() || s.cfg.Now().Before(c.expiresAt)
	if ok && s.keys != nil && c.kind == record.KindAPIKey {
		var err error
		if ok, err = s.keys.usable(r.Context(), c.keyID, c.secretFingerprint); err != nil {
			x.err = err
			writeError(w, http.StatusInternalServerError, typeServer, codeInternal, "", "The server could not check the API key.")
			return false
		}
	}
	if !ok {
		x.err = errors.New("aiapi: credential revoked, expired or rotated")
		writeError(w, http.StatusUnauthorized, typeInvalidRequest, codeInvalidAPIKey, "",
			"The API key is revoked, expired or was replaced by a rotation.")
	}
	return ok
}

// route finds where model goes, if the caller may use it.
func (s *Server) route(c *caller, model string) (route, bool) {
	if !c.mayUse(model) {
		return route{}, false
	}
	for _, rt := range s.routes {
		if rt.Name == model || rt.glob && policy.Match(rt.Name, model) {
			return rt, true
		}
	}
	return route{}, false
}

// outputCeiling is the most output tokens per choice a request routed by
// rt may ask for; 0: no ceiling.
func (s *Server) outputCeiling(rt route) int64 {
	if rt.MaxOutputTokens > 0 {
		return rt.MaxOutputTokens
	}
	return s.cfg.MaxOutputTokens
}

// modelNotFound is OpenAI's answer for a model that does not exist or that
// the caller may not use: the two are not told apart.
func modelNotFound(w http.ResponseWriter, model string, ew errorWriter) {
	ew(w, http.StatusNotFound, typeInvalidRequest, codeModelNotFound, "model",
		fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", model))
}

// readBody reads the request body, answering 413 above MaxRequestBytes.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, x *exchange, ew errorWriter) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxRequestBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		ew(w, http.StatusRequestEntityTooLarge, typeInvalidRequest, "request_too_large", "",
			fmt.Sprintf("The request body is over %d bytes.", s.cfg.MaxRequestBytes))
		return nil, false
	case err != nil:
		x.err = fmt.Errorf("aiapi: read request body: %w", err)
		ew(w, http.StatusBadRequest, typeInvalidRequest, "", "", "The request body could not be read.")
		return nil, false
	}
	return body, true
}

// badRequest answers a request body error.
func badRequest(w http.ResponseWriter, err error, ew errorWriter) {
	var re *requestError
	if !errors.As(asRequestError(err), &re) {
		re = &requestError{message: "the request is invalid"}
	}
	ew(w, http.StatusBadRequest, typeInvalidRequest, "", re.param, re.message)
}

// reserve reserves bound tokens for the request, output of them output
// tokens, and their cost at the price of upstream (see spendOf), against
// the caller's limits and its tenant's; it sets the rate-limit headers,
// and answers 403, 429 or 500 itself when it fails.
func (s *Server) reserve(w http.ResponseWriter, r *http.Request, x *exchange, bound, output int64, upstream string, in *inbound) (quota.Reservation, bool) {
	c := x.caller
	sp, ok := s.spendOf(w, r, x, bound, output, upstream, in.writeError)
	if !ok {
		return quota.Reservation{}, false
	}
	res, st, err := s.limiter.Reserve(r.Context(), quota.Request{
		ID: x.id, PrincipalID: c.principalID, Tenant: c.tenant, Model: x.model, Protocol: in.ledgerName(),
		Tokens: bound, Limits: c.limits, TenantLimits: sp.tenantLimits,
		Price: sp.price, Unpriced: sp.unpriced, CostMicros: int64(sp.bound),
	})
	now := s.cfg.Now()
	var d *quota.Denial
	switch {
	case errors.As(err, &d):
		x.err = err
		quota.SetDenialHeaders(w.Header(), err, st, c.limits, now)
		if in.limitHeaders != nil {
			in.limitHeaders(w.Header(), st, now)
		}
		s.writeDenial(w, d, bound, sp.bound, now, in.writeError)
		return quota.Reservation{}, false
	case err != nil:
		x.err = err
		in.writeError(w, http.StatusInternalServerError, typeServer, codeInternal, "", "The server could not check the rate limits.")
		return quota.Reservation{}, false
	}
	quota.SetHeaders(w.Header(), st, now)
	if in.limitHeaders != nil {
		in.limitHeaders(w.Header(), st, now)
	}
	return res, true
}

// writeDenial answers 429 as OpenAI does: insufficient_quota for an
// exhausted budget, rate_limit_exceeded for a rate.
func (s *Server) writeDenial(w http.ResponseWriter, d *quota.Denial, bound int64, cost pricing.Micros, now time.Time, ew errorWriter) {
	wait := quota.RetryAfter(d, now)
	if d.USD() {
		whose := "your USD budget"
		if d.Tenant != "" {
			whose = fmt.Sprintf("the USD budget of tenant %s", d.Tenant)
		}
		ew(w, http.StatusTooManyRequests, typeInsufficientQuota, codeInsufficientQuota, "",
			fmt.Sprintf("You exceeded %s (%s: limit $%s, used $%s, this request may cost up to $%s). It resets at %s.",
				whose, d.Limit, pricing.Micros(d.Max), pricing.Micros(d.Used), cost, d.ResetAt.UTC().Format(time.RFC3339)))
		return
	}
	if d.Budget() {
		ew(w, http.StatusTooManyRequests, typeInsufficientQuota, codeInsufficientQuota, "",
			fmt.Sprintf("You exceeded your token budget (%s: limit %d, used %d, this request may use up to %d). It resets at %s.",
				d.Limit, d.Max, d.Used, bound, d.ResetAt.UTC().Format(time.RFC3339)))
		return
	}
	typ, unit, requested := "tokens", "tokens per min (TPM)", bound
	if d.Limit == quota.LimitRequestsPerMinute {
		typ, unit, requested = "requests", "requests per min (RPM)", 1
	}
	msg := fmt.Sprintf("Rate limit reached on %s: Limit %d, Used %d, Requested %d. Please try again in %s.",
		unit, d.Max, d.Used, requested, wait)
	if requested > d.Max {
		msg = fmt.Sprintf("Request too large on %s: Limit %d, Requested %d. Lower max_tokens or the prompt.", unit, d.Max, requested)
	}
	ew(w, http.StatusTooManyRequests, typ, codeRateLimitExceeded, "", msg)
}

// settle records the real usage; its context outlives ctx (the caller's or
// the upstream call's), since a caller that went away still used what it
// used.
func (s *Server) settle(ctx context.Context, x *exchange, res quota.Reservation, u provider.Usage) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	e, err := s.limiter.SettleUsage(ctx, res, quota.TokenUsage{
		Prompt: u.PromptTokens, Completion: u.CompletionTokens, Cached: u.CacheReadTokens, CacheWrite: u.CacheWriteTokens,
	})
	if err != nil {
		return err
	}
	if e.Late {
		s.log.WarnContext(ctx, "aiapi: settled after the reservation lapsed; usage recorded", "request_id", x.id)
	}
	if e.Unpriced && s.unpriced != nil {
		s.unpriced.Inc()
	}
	x.usage = &e
	return nil
}

// keepAlive keeps a running request's reservation pending (a store write
// at most every half reservation TTL). A reservation that lapsed anyway is
// settled late, its usage recorded all the same; a failure to extend is
// logged, not fatal.
func (s *Server) keepAlive(ctx context.Context, x *exchange, res *quota.Reservation) {
	if err := s.limiter.KeepAlive(ctx, res); err != nil && ctx.Err() == nil {
		s.log.WarnContext(ctx, "aiapi: keep reservation", "request_id", x.id, "error", err)
	}
}

// release gives the reservation back after a failure that produced nothing.
func (s *Server) release(ctx context.Context, x *exchange, res quota.Reservation) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.limiter.Release(ctx, res); err != nil {
		// The reservation stays pending until it expires: budget is held,
		// never overspent.
		s.log.ErrorContext(ctx, "aiapi: release", "request_id", x.id, "error", err)
	}
}

// errUpstreamTimeout is the cause of the context of an upstream call that
// ran past its timeout.
var errUpstreamTimeout = errors.New("aiapi: upstream timeout")

// upstreamContext bounds an upstream call to the named provider by its
// timeout (ProviderConfig.Timeout), else UpstreamTimeout.
func (s *Server) upstreamContext(ctx context.Context, provider string) (context.Context, context.CancelFunc) {
	d, ok := s.timeouts[provider]
	if !ok {
		d = s.cfg.UpstreamTimeout.Std()
	}
	return upstreamContext(ctx, d)
}

// upstreamContext is the context of an upstream call: the request's, ended
// after d with errUpstreamTimeout as its cause, so that an upstream that ran
// out of time and a caller that went away are told apart (callerGone).
func upstreamContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, d, errUpstreamTimeout)
}

// callerGone reports whether the request behind ctx, an upstream call's
// context (upstreamContext), ended before the call's own timeout: the
// caller went away (or the runtime's deadline passed).
func callerGone(ctx context.Context) bool {
	return ctx.Err() != nil && !errors.Is(context.Cause(ctx), errUpstreamTimeout)
}

// failure classifies the error of an upstream call made with ctx
// (upstreamContext): the status, type, code and message for the caller
// (status 499 when the caller went away first).
func failure(ctx context.Context, err error) (status int, typ, code, msg string) {
	var pe *provider.Error
	isPE := errors.As(err, &pe)
	switch {
	case callerGone(ctx):
		return 499, "", "", "the client closed the request"
	case errors.Is(context.Cause(ctx), errUpstreamTimeout) || isPE && pe.Kind == provider.Timeout:
		return http.StatusGatewayTimeout, typeServer, codeUpstreamTimeout, "The model did not answer in time."
	case isPE && pe.Kind == provider.BadRequest:
		return http.StatusBadRequest, typeInvalidRequest, "", pe.Message
	case isPE:
		return http.StatusBadGateway, typeServer, codeUpstreamError, "The model's upstream failed: " + pe.Message + "."
	default:
		return http.StatusBadGateway, typeServer, codeUpstreamError, "The model's upstream failed."
	}
}

// estimate is the usage settled when an upstream reported none (a stream
// cut short, an upstream that does not count): 4 bytes of text per token,
// rounded up, the usual rule of thumb for English and code.
func estimate(promptBytes, outputBytes int64) provider.Usage {
	return provider.Usage{PromptTokens: (promptBytes + 3) / 4, CompletionTokens: (outputBytes + 3) / 4}
}

// listModels answers GET /v1/models: the routed models (those named without
// wildcards) that the caller may use.
func (s *Server) listModels(w http.ResponseWriter, r *http.Request, c *caller) {
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	list := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{Object: "list", Data: []model{}}
	seen := map[string]bool{}
	for _, rt := range s.routes {
		if rt.glob || seen[rt.Name] || !c.mayUse(rt.Name) {
			continue
		}
		// An earlier glob route may serve this name: list what serves it.
		served, _ := s.route(c, rt.Name)
		seen[rt.Name] = true
		list.Data = append(list.Data, model{ID: rt.Name, Object: "model", OwnedBy: served.Provider})
	}
	// Anthropic's clients list models in Anthropic's shape; they say so
	// with the anthropic-version header every one of their requests has.
	if r.Header.Get("Anthropic-Version") != "" {
		infos := make([]messages.ModelInfo, len(list.Data))
		for i, m := range list.Data {
			infos[i] = messages.ModelInfo{ID: m.ID}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(messages.ModelsList(infos))
		return
	}
	writeJSON(w, list)
}

// getModel answers GET /v1/models/{id}.
func (s *Server) getModel(w http.ResponseWriter, c *caller, id string) {
	rt, ok := s.route(c, id)
	if !ok {
		modelNotFound(w, id, writeError)
		return
	}
	writeJSON(w, struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}{id, "model", 0, rt.Provider})
}

func writeJSON(w http.ResponseWriter, v any) {
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

// statusWriter remembers the status for the log line.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
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

// Unwrap lets http.ResponseController reach Flush.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) logExchange(r *http.Request, x *exchange, w *statusWriter) {
	status := w.status
	if x.status != 0 {
		status = x.status // 499: the caller left
	}
	attrs := []slog.Attr{
		slog.String("request_id", x.id),
		slog.String("method", r.Method),
		slog.String("path", apiPath(r.URL.Path)),
		slog.Int("status", status),
		slog.Int64("latency_us", s.cfg.Now().Sub(x.start).Microseconds()),
	}
	if x.caller != nil {
		attrs = append(attrs, slog.String("principal_id", x.caller.principalID))
	}
	if x.model != "" {
		attrs = append(attrs, slog.String("model", x.model))
	}
	if x.usage != nil {
		attrs = append(attrs, slog.Int64("prompt_tokens", x.usage.PromptTokens),
			slog.Int64("completion_tokens", x.usage.CompletionTokens), slog.Int64("reserved_tokens", x.usage.ReservedTokens))
	}
	level := slog.LevelInfo
	if x.err != nil {
		attrs = append(attrs, slog.String("error", x.err.Error()))
		if status >= 500 && status != 499 {
			level = slog.LevelError
		}
	}
	s.log.LogAttrs(r.Context(), level, "aiapi: request", attrs...)
}

package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aigate/aigate/policy"
)

// authorizer is a compiled Lambda authorizer.
type authorizer struct {
	name    string
	cfgPath string
	api     *api

	token             bool // TOKEN rather than REQUEST
	format            authFormat
	simple            bool // HTTP API simple responses
	sources           []valueRef
	routeKeyInSources bool
	validation        *regexp.Regexp // nil: none
	ttl               time.Duration  // 0: no cache
	timeout           time.Duration
	fn                LambdaFunction

	// Bound by New.
	invoker *function
	cache   *resultCache // nil when ttl is 0
	obs     *authObserver
	parsed  parsedOutputs
}

// authOutput is an authorizer's answer, checked: what the cache holds. It is
// shared by every request that hits it, so it is never modified.
type authOutput struct {
	principalID  string
	simple       bool             // a simple response: isAuthorized decides
	isAuthorized bool             // simple responses only
	policy       *policy.Document // nil for simple responses
	// context is the context as decoded (string, json.Number or bool
	// values); strContext the same stringified, as REST integrations and
	// mapping expressions see it.
	context    map[string]any
	strContext map[string]string
	// jsonHead and jsonTail are $context.authorizer (what an AWS_PROXY
	// integration gets as requestContext.authorizer), encoded once: a REST
	// API's integrationLatency, which varies per request, goes between them.
	jsonHead, jsonTail []byte
}

// outcome is what the authorizer stage decided for a request.
type outcome uint8

const (
	outcomeNone          outcome = iota // the route has no authorizer
	outcomeAllow                        // policy allows, or isAuthorized true
	outcomeUnauthorized                 // 401: identity missing, regex mismatch, "Unauthorized"
	outcomeExplicitDeny                 // 403: a Deny statement matched
	outcomeImplicitDeny                 // 403: no Allow matched
	outcomeNotAuthorized                // 403: a simple response with isAuthorized false
	outcomeFailure                      // 500: function error, malformed output, timeout
	outcomeARNTooLong                   // 414: methodArn over 1600 bytes
)

var outcomeNames = [...]string{
	outcomeNone: "none", outcomeAllow: "allow", outcomeUnauthorized: "unauthorized",
	outcomeExplicitDeny: "explicit_deny", outcomeImplicitDeny: "implicit_deny",
	outcomeNotAuthorized: "not_authorized", outcomeFailure: "failure", outcomeARNTooLong: "arn_too_long",
}

func (o outcome) String() string { return outcomeNames[o] }

// cacheResult says how the output was had.
type cacheResult uint8

const (
	cacheOff    cacheResult = iota // caching disabled, or no invocation
	cacheHit                       // from the cache
	cacheMiss                      // invoked, result cached if valid
	cacheShared                    // waited for a concurrent miss's invocation
)

var cacheNames = [...]string{cacheOff: "off", cacheHit: "hit", cacheMiss: "miss", cacheShared: "shared"}

func (c cacheResult) String() string { return cacheNames[c] }

// authorize runs the authorizer stage for rq and records the outcome, the
// output and how it was had in rq. The cheap refusals come first, without
// invoking anything, as on AWS.
func (au *authorizer) authorize(rq *request) outcome {
	var buf [4]string
	values := buf[:0]
	for _, src := range au.sources {
		v, ok := rq.resolve(src)
		if !ok || v == "" {
			// Any listed source missing, null or empty: 401 without
			// invoking the function. (The detail names the source, never
			// a value.)
			rq.detail = "identity source missing or empty"
			return outcomeUnauthorized
		}
		values = append(values, v)
	}
	if au.validation != nil && !au.validation.MatchString(values[0]) {
		rq.detail = "token does not match identityValidationExpression"
		return outcomeUnauthorized
	}
	arn := rq.methodARN()
	if len(arn) > policy.MaxMethodARNLength {
		rq.detail = "method ARN longer than 1600 bytes"
		return outcomeARNTooLong
	}

	var out *authOutput
	var err error
	if au.cache == nil {
		rq.cache = cacheOff
		start := time.Now()
		out, err = au.invoke(rq.r.Context(), rq, arn, values)
		rq.authLatency = time.Since(start)
	} else {
		key := cacheKey(values)
		if out = au.cache.get(key, rq.g.now()); out != nil {
			rq.cache = cacheHit
		} else if out, err = au.fill(rq, key, arn, values); err == nil && out == nil {
			err = errors.New("gateway: no output")
		}
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			rq.detail = fmt.Sprintf("authorizer timed out after %s", au.timeout)
			return outcomeFailure
		}
		msg := functionErrorMessage(err)
		if msg == "Unauthorized" {
			// The one error API Gateway turns into a 401; any other
			// message, even "Unauthorized: expired", is a 500.
			rq.detail = "authorizer answered Unauthorized"
			return outcomeUnauthorized
		}
		rq.detail = "authorizer failed: " + truncate(msg, 200)
		return outcomeFailure
	}
	rq.auth = out
	if out.simple {
		if out.isAuthorized {
			return outcomeAllow
		}
		return outcomeNotAuthorized
	}
	// The output, cached or fresh, is evaluated against this request's
	// methodArn and condition keys: a cached policy written for another
	// route may deny this one, exactly as on AWS.
	keys := rq.conditionKeys()
	dec := out.policy.Decide(arn, &keys)
	for _, u := range dec.Unevaluated {
		// The policy is the authorizer's, not a secret; the reason names
		// operators and keys, never values.
		rq.g.log.LogAttrs(rq.r.Context(), slog.LevelWarn, "gateway: policy condition not evaluated, statement decided fail-closed",
			slog.String("request_id", rq.id), slog.String("authorizer", au.name),
			slog.Int("statement", u.Statement), slog.String("sid", u.Sid), slog.String("effect", u.Effect),
			slog.String("reason", u.Reason))
	}
	switch dec.Result {
	case policy.Allow:
		return outcomeAllow
	case policy.ExplicitDeny:
		return outcomeExplicitDeny
	default:
		return outcomeImplicitDeny
	}
}

// fill gets the output for a cache miss: one invocation per key at a time,
// shared by the requests that miss meanwhile. The invocation is detached
// from the leading request's cancellation (the others wait for it), but not
// from the authorizer's timeout.
func (au *authorizer) fill(rq *request, key, arn string, values []string) (*authOutput, error) {
	f, leader := au.cache.join(key)
	if !leader {
		rq.cache = cacheShared
		start := time.Now()
		select {
		case <-f.done:
		case <-rq.r.Context().Done():
			return nil, fmt.Errorf("gateway: client gone while waiting for the authorizer: %w", context.Cause(rq.r.Context()))
		}
		rq.authLatency = time.Since(start)
		return f.out, f.err
	}
	rq.cache = cacheMiss
	start := time.Now()
	f.out, f.err = au.invoke(context.WithoutCancel(rq.r.Context()), rq, arn, values)
	f.latency = time.Since(start)
	rq.authLatency = f.latency
	// Only valid outputs are cached. AWS documents caching "for a valid
	// policy"; an error, a timeout or a malformed output is not cached, so
	// a passing failure does not stick for the TTL. "Unauthorized" is not
	// cached either (AWS does not document it): every retry invokes the
	// function again, which answers the same, so no decision changes.
	now := rq.g.now()
	au.cache.land(key, f, now.Add(au.ttl))
	return f.out, f.err
}

// invoke sends the event and checks the answer.
func (au *authorizer) invoke(ctx context.Context, rq *request, arn string, values []string) (*authOutput, error) {
	event := au.event(rq, arn, values)
	ctx, cancel := context.WithTimeout(ctx, au.timeout)
	defer cancel()
	start := time.Now()
	raw, err := au.invoker.invokeEvent(ctx, event)
	au.obs.invoked(time.Since(start), err)
	if err != nil {
		return nil, err
	}
	if out := au.parsed.get(raw); out != nil {
		return out, nil
	}
	var out *authOutput
	if au.simple {
		out, err = parseSimpleOutput(raw)
	} else {
		out, err = parseIAMOutput(raw, au.api.httpAPI)
	}
	if err != nil {
		return nil, err
	}
	out.encodeAuthorizerJSON(au.api.httpAPI)
	au.parsed.put(raw, out)
	return out, nil
}

// conditionKeys are the IAM global condition keys of rq, for the policy's
// Condition: the client's address as the gateway sees it, the request's
// time, TLS, and the User-Agent and Referer headers. There are no VPC
// endpoints locally, so aws:SourceVpc and aws:SourceVpce are absent.
func (rq *request) conditionKeys() policy.ConditionKeys {
	ip, _ := netip.ParseAddr(sourceIP(rq.r.RemoteAddr))
	return policy.ConditionKeys{
		SourceIP:        ip,
		CurrentTime:     rq.start,
		SecureTransport: rq.r.TLS != nil,
		UserAgent:       rq.r.UserAgent(),
		Referer:         rq.r.Referer(),
	}
}

// event builds the event AWS sends this authorizer.
func (au *authorizer) event(rq *request, arn string, values []string) any {
	switch {
	case au.token:
		return rq.tokenEvent(arn, values[0])
	case au.format == formatHTTPV1:
		return rq.httpV1AuthorizerEvent(arn, strings.Join(values, ","))
	case au.format == formatHTTPV2:
		return rq.httpV2AuthorizerEvent(arn, values)
	default:
		return rq.requestEvent(arn)
	}
}

// cacheKey joins identity-source values unambiguously.
func cacheKey(values []string) string {
	if len(values) == 1 {
		return values[0]
	}
	var b strings.Builder
	for _, v := range values {
		b.WriteString(strconv.Itoa(len(v)))
		b.WriteByte(':')
		b.WriteString(v)
	}
	return b.String()
}

// errMalformed wraps every reason an output is refused (500).
var errMalformed = errors.New("gateway: malformed authorizer output")

// parseIAMOutput checks an IAM-policy answer the way API Gateway does: a
// JSON object with a string principalId, a valid policyDocument (policy's
// Validate: a null Statement or Condition is a 500), and a context that
// checkContext accepts.
func parseIAMOutput(raw []byte, httpAPI bool) (*authOutput, error) {
	var o struct {
		PrincipalID    *string          `json:"principalId"`
		PolicyDocument *policy.Document `json:"policyDocument"`
		Context        map[string]any   `json:"context"`
		// usageIdentifierKey is accepted and ignored: it matters only to
		// usage plans, which the local gateway does not have.
		UsageIdentifierKey *string `json:"usageIdentifierKey"`
	}
	if err := decodeStrict(raw, &o); err != nil {
		return nil, err
	}
	if o.PrincipalID == nil {
		return nil, fmt.Errorf("%w: no principalId", errMalformed)
	}
	if o.PolicyDocument == nil {
		return nil, fmt.Errorf("%w: no policyDocument", errMalformed)
	}
	if err := o.PolicyDocument.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", errMalformed, err)
	}
	str, err := checkContext(o.Context, httpAPI)
	if err != nil {
		return nil, err
	}
	return &authOutput{principalID: *o.PrincipalID, policy: o.PolicyDocument, context: o.Context, strContext: str}, nil
}

// parseSimpleOutput checks an HTTP API simple response:
// {"isAuthorized": bool, "context": {…}}.
func parseSimpleOutput(raw []byte) (*authOutput, error) {
	var o struct {
		IsAuthorized *bool          `json:"isAuthorized"`
		Context      map[string]any `json:"context"`
	}
	if err := decodeStrict(raw, &o); err != nil {
		return nil, err
	}
	if o.IsAuthorized == nil {
		return nil, fmt.Errorf("%w: no isAuthorized", errMalformed)
	}
	// Simple responses exist only on HTTP APIs.
	str, err := checkContext(o.Context, true)
	if err != nil {
		return nil, err
	}
	return &authOutput{simple: true, isAuthorized: *o.IsAuthorized, context: o.Context, strContext: str}, nil
}

// decodeStrict decodes one JSON object, keeping numbers as written.
func decodeStrict(raw []byte, v any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return fmt.Errorf("%w: not a JSON object", errMalformed)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", errMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the JSON object", errMalformed)
	}
	return nil
}

// checkContext checks the context's values as API Gateway does and renders
// them as strings, as REST integrations and mapping expressions see them
// (1 → "1", true → "true", null → "").
//
// A REST API accepts strings, numbers, booleans and null (the integration
// gets the key with a null value); an object or an array makes it answer
// 500. An HTTP API accepts any JSON value and passes it on with its type
// under requestContext.authorizer.lambda, as AWS's own payload 2.0 examples
// do with arrays and maps; its string form is the JSON text.
func checkContext(ctx map[string]any, httpAPI bool) (map[string]string, error) {
	if len(ctx) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(ctx))
	for k, v := range ctx {
		switch v := v.(type) {
		case string:
			out[k] = v
		case json.Number:
			out[k] = v.String()
		case bool:
			out[k] = strconv.FormatBool(v)
		case nil:
			out[k] = ""
		default:
			if !httpAPI {
				// The key is named, never the value.
				return nil, fmt.Errorf("%w: context key %q is not a string, number, boolean or null", errMalformed, k)
			}
			out[k] = string(appendJSON(nil, v))
		}
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

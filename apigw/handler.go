package apigw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/policy"
)

// ErrUnauthorized is the one error API Gateway turns into a 401: its
// message must be exactly "Unauthorized" ("Unauthorized: expired" is a 500).
var ErrUnauthorized = errors.New("Unauthorized")

// Decider makes the decision for a credential; *authz.Authorizer is one.
type Decider interface {
	Decide(ctx context.Context, credential string) (authz.Decision, error)
}

// Handler is the authorizer Lambda: it implements aws-lambda-go's
// lambda.Handler, so lambda.StartHandler(h) runs it on AWS and the local
// gateway calls the same Invoke in process.
type Handler struct {
	// Decider decides; required.
	Decider Decider
	// IAMForHTTPAPI makes HTTP API 2.0 events answer with an IAM policy
	// instead of a simple response; set it when the authorizer is not
	// configured with enableSimpleResponses. A simple response holds one
	// boolean that API Gateway re-uses for every route of its cache key,
	// so it is given only when the event's identitySource holds its
	// routeKey ($context.routeKey is an identity source), and it is true
	// only when the scope covers every path of that route (see route.go);
	// otherwise the handler fails (API Gateway's 500).
	IAMForHTTPAPI bool
	// Logger receives one line per decision (never a credential).
	// Nil: slog.Default().
	Logger *slog.Logger
	// AllowLogLevel is the level of an Allow's decision line; refusals and
	// failures keep theirs (Info and Error), with their reason. Zero: Info,
	// for a Lambda, whose log is the decision's only record. A gateway
	// that logs every request's decision in its own line (`aigate serve`)
	// sets Debug, so that an allowed request costs one line, not two.
	AllowLogLevel slog.Level
}

// NewHandler builds the authorizer Lambda over authz's decision for cfg:
// the same object runs on AWS, under the Lambda emulator, and in process in
// the local gateway. cfg.Logger receives the handler's decision lines too.
func NewHandler(cfg authz.Config, iamForHTTPAPI bool) (*Handler, error) {
	az, err := authz.New(cfg)
	if err != nil {
		return nil, err
	}
	return &Handler{Decider: az, IAMForHTTPAPI: iamForHTTPAPI, Logger: cfg.Logger}, nil
}

// Invoke answers one authorizer event.
func (h *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	resp, err := h.Authorize(ctx, payload)
	if err != nil {
		return nil, err
	}
	return json.Marshal(resp)
}

// Authorize answers one authorizer event with the value to encode: an
// *IAMResponse or a *SimpleResponse. The error is ErrUnauthorized for any
// bad credential, and another error when no decision could be made.
func (h *Handler) Authorize(ctx context.Context, payload []byte) (any, error) {
	start := time.Now()
	ev, err := ParseEvent(payload)
	if err != nil {
		h.logger().ErrorContext(ctx, "authorizer: bad event", "error", err)
		return nil, err
	}
	return h.authorize(ctx, ev, start)
}

// InvokeParsed answers an event that its caller decoded or built and
// classified (Event.Classify) itself, as Invoke answers its encoding: the
// local gateway hands the built-in authorizer its events this way, in
// process, without JSON in between.
func (h *Handler) InvokeParsed(ctx context.Context, ev *Event) ([]byte, error) {
	resp, err := h.authorize(ctx, ev, time.Now())
	if err != nil {
		return nil, err
	}
	return json.Marshal(resp)
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.Default()
	}
	return h.Logger
}

// authorize answers a classified event; start is when the event arrived.
func (h *Handler) authorize(ctx context.Context, ev *Event, start time.Time) (any, error) {
	log := h.logger()
	d, err := h.Decider.Decide(ctx, ev.Credential())
	if err != nil {
		// Fail closed: API Gateway answers 500, never an Allow.
		log.ErrorContext(ctx, "authorizer: decision failed", "format", ev.Format, "error", err)
		return nil, fmt.Errorf("apigw: %w", err)
	}
	level := slog.LevelInfo
	if d.Outcome == authz.Allow {
		level = h.AllowLogLevel
	}
	if log.Enabled(ctx, level) {
		attrs := []any{"format", ev.Format, "outcome", d.Outcome.String(), "latency_us", time.Since(start).Microseconds()}
		if d.Principal != nil {
			attrs = append(attrs, "principal_id", d.Principal.ID)
		}
		if d.Reason != "" {
			attrs = append(attrs, "reason", d.Reason)
		}
		log.Log(ctx, level, "authorizer: decision", attrs...)
	}
	if d.Outcome == authz.Unauthorized {
		return nil, ErrUnauthorized
	}
	// The answer gets a context of its own: a Decider may hand the same
	// decision to every caller of a credential (a cache), and whoever
	// receives the answer may change it.
	ctxMap := maps.Clone(d.Context)
	if ev.Format == FormatHTTPV2 && !h.IAMForHTTPAPI {
		authorized := false
		if d.Outcome == authz.Allow {
			if authorized, err = routeAuthorized(ev, d.Scope); err != nil {
				log.ErrorContext(ctx, "authorizer: no simple response", "route_key", ev.RouteKey, "error", err)
				return nil, err
			}
			if !authorized {
				log.InfoContext(ctx, "authorizer: route outside the scope", "route_key", ev.RouteKey)
			}
		}
		return &SimpleResponse{IsAuthorized: authorized, Context: ctxMap}, nil
	}
	arn, err := policy.ParseMethodARN(ev.ResourceARN())
	if err != nil {
		log.ErrorContext(ctx, "authorizer: bad method ARN", "format", ev.Format, "error", err)
		return nil, fmt.Errorf("apigw: %w", err)
	}
	return &IAMResponse{
		PrincipalID:        d.Principal.ID,
		PolicyDocument:     PolicyFor(d, arn),
		Context:            ctxMap,
		UsageIdentifierKey: d.Principal.UsageIdentifierKey,
	}, nil
}

// PolicyFor builds the policy API Gateway caches for the decision. It covers
// the whole scope on the event's API and stage, never only the incoming
// method ARN: the cached policy is evaluated again for every later route.
// A Deny covers the whole stage.
func PolicyFor(d authz.Decision, arn policy.MethodARN) policy.Document {
	prefix := arn.StagePrefix()
	b := policy.NewDocument()
	if d.Outcome != authz.Allow {
		return b.Deny(prefix + "*").Document()
	}
	resources := make([]string, len(d.Scope))
	for i, s := range d.Scope {
		resources[i] = prefix + s
	}
	return b.Allow(resources...).Document()
}

package apigw

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Format is the kind of authorizer event API Gateway sent.
type Format string

const (
	FormatToken   Format = "TOKEN"        // REST API, TOKEN authorizer
	FormatRequest Format = "REQUEST"      // REST API, REQUEST authorizer
	FormatHTTPV1  Format = "HTTP_API_1.0" // HTTP API, payload format 1.0
	FormatHTTPV2  Format = "HTTP_API_2.0" // HTTP API, payload format 2.0
)

// Event is the union of the fields aigate reads from every authorizer event
// format. One decode serves all formats; Format says which one it was.
type Event struct {
	Format Format `json:"-"`

	Type               string  `json:"type"`
	Version            string  `json:"version"`
	AuthorizationToken *string `json:"authorizationToken"` // TOKEN only
	MethodArn          string  `json:"methodArn"`          // REST and HTTP API 1.0
	RouteArn           string  `json:"routeArn"`           // HTTP API 2.0
	// RouteKey ("GET /v1/models/{id+}" or "$default") and IdentitySource
	// (the list of identity-source values, the cache key) are read for
	// HTTP API 2.0 simple responses only; payload 1.0 has a string there.
	RouteKey       string          `json:"routeKey"`
	IdentitySource json.RawMessage `json:"identitySource"`
	// Headers: as the client sent them for REST (any case), lowercased for
	// HTTP API 2.0. Looked up case-insensitively.
	Headers map[string]string `json:"headers"`
}

// ErrUnrecognisedEvent is returned for a payload that is no authorizer event.
var ErrUnrecognisedEvent = errors.New("apigw: unrecognised authorizer event")

// ParseEvent decodes an authorizer event and detects its format.
func ParseEvent(payload []byte) (*Event, error) {
	var ev Event
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, fmt.Errorf("apigw: decode event: %w", err)
	}
	if err := ev.Classify(); err != nil {
		return nil, err
	}
	return &ev, nil
}

// Classify sets the event's Format from its fields and checks that the
// fields its format needs are there, as ParseEvent does after decoding: a
// caller that builds an Event itself (the local gateway, in process) calls
// it before Handler.InvokeParsed.
func (ev *Event) Classify() error {
	switch {
	case ev.Version == "2.0":
		ev.Format = FormatHTTPV2
		if ev.RouteArn == "" {
			return errors.New("apigw: HTTP API 2.0 event without routeArn")
		}
	case ev.Version == "1.0":
		ev.Format = FormatHTTPV1
	case ev.Type == "TOKEN":
		ev.Format = FormatToken
		if ev.AuthorizationToken == nil {
			return errors.New("apigw: TOKEN event without authorizationToken")
		}
	case ev.Type == "REQUEST":
		ev.Format = FormatRequest
	default:
		return ErrUnrecognisedEvent
	}
	if ev.Format != FormatHTTPV2 && ev.MethodArn == "" {
		return fmt.Errorf("apigw: %s event without methodArn", ev.Format)
	}
	return nil
}

// ResourceARN is the ARN API Gateway evaluates the policy against: the
// methodArn, or the routeArn for HTTP API 2.0.
func (ev *Event) ResourceARN() string {
	if ev.Format == FormatHTTPV2 {
		return ev.RouteArn
	}
	return ev.MethodArn
}

// Credential returns the bare credential: the bearer token of the
// Authorization header (the TOKEN event's authorizationToken), or for
// REQUEST and HTTP API events the x-api-key header, which Anthropic's
// clients send (ANTHROPIC_API_KEY), when Authorization is absent or blank.
// Empty when there is none.
//
// When both headers hold a value, Authorization wins and x-api-key is not
// looked at, even when they differ: a client may well carry an unrelated
// key there (the Anthropic SDKs send both when ANTHROPIC_API_KEY and
// ANTHROPIC_AUTH_TOKEN are set), and an API Gateway whose identity source
// is the Authorization header caches the answer by that header alone, so
// the decision must depend on it alone. A TOKEN event carries only its one
// identity source; x-api-key clients need a REQUEST authorizer.
func (ev *Event) Credential() string {
	if ev.Format == FormatToken {
		return bearer(*ev.AuthorizationToken)
	}
	if v, _ := ev.header("authorization"); strings.TrimSpace(v) != "" {
		return bearer(v)
	}
	v, _ := ev.header("x-api-key")
	return strings.TrimSpace(v)
}

// header looks a header up case-insensitively, as HTTP does; REST REQUEST
// events keep the client's spelling.
func (ev *Event) header(name string) (string, bool) {
	if v, ok := ev.Headers[name]; ok {
		return v, true
	}
	for k, v := range ev.Headers {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// bearer strips an RFC 6750 "Bearer" scheme (case-insensitive). A value
// without a scheme is returned trimmed: the credential's own format decides
// whether it is anything at all.
func bearer(v string) string {
	v = strings.TrimSpace(v)
	const scheme = "bearer "
	if len(v) > len(scheme) && strings.EqualFold(v[:len(scheme)], scheme) {
		return strings.TrimSpace(v[len(scheme):])
	}
	return v
}

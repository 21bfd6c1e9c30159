package server

import (
	"context"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aigate/aigate/apigw"
	"github.com/aigate/aigate/gateway"
)

// eventAuthorizer is the built-in authorizer as the gateway calls it in
// process: a gateway.EventInvoker, given each event as the aws-lambda-go
// value the gateway would otherwise encode, and the Lambda's own handler
// (apigw.Handler) behind it. Encoding every event for the handler to decode
// it again cost about 5 % of `aigate serve`'s CPU per request in the bench's
// profile; the answer is the same (TestEventAuthorizerReadsWhatTheJSONSays).
type eventAuthorizer struct{ *apigw.Handler }

var (
	_ gateway.EventInvoker  = eventAuthorizer{}
	_ gateway.InlineInvoker = eventAuthorizer{}
)

// Inline: the authorizer's store reads take ctx, its other work is short,
// and its answer is a fresh slice (json.Marshal), so the gateway may call it
// on the request's goroutine.
func (eventAuthorizer) Inline() bool { return true }

// InvokeEvent answers event as Invoke answers its JSON encoding.
func (a eventAuthorizer) InvokeEvent(ctx context.Context, event any) ([]byte, error) {
	ev, ok := apigwEvent(event)
	if !ok {
		payload, err := json.Marshal(event)
		if err != nil {
			return nil, fmt.Errorf("server: encode authorizer event: %w", err)
		}
		return a.Invoke(ctx, payload)
	}
	return a.InvokeParsed(ctx, ev)
}

// apigwEvent is the apigw.Event that apigw.ParseEvent reads from event's
// JSON encoding, made without the encoding. ok is false, and the caller
// encodes, for an event type it does not know, for a string that is not
// valid UTF-8 (the encoding would replace its bytes) and for an event that
// Classify refuses (ParseEvent's error is then the one logged and
// answered).
func apigwEvent(event any) (_ *apigw.Event, ok bool) {
	var ev apigw.Event
	switch e := event.(type) {
	case events.APIGatewayCustomAuthorizerRequest:
		ev = apigw.Event{Type: e.Type, AuthorizationToken: &e.AuthorizationToken, MethodArn: e.MethodArn}
	case events.APIGatewayCustomAuthorizerRequestTypeRequest:
		ev = apigw.Event{Type: e.Type, MethodArn: e.MethodArn, Headers: e.Headers}
	case events.APIGatewayV2CustomAuthorizerV1Request:
		ev = apigw.Event{Type: e.Type, Version: e.Version, AuthorizationToken: &e.AuthorizationToken, MethodArn: e.MethodArn,
			IdentitySource: encode(e.IdentitySource), Headers: e.Headers}
	case events.APIGatewayV2CustomAuthorizerV2Request:
		ev = apigw.Event{Type: e.Type, Version: e.Version, RouteArn: e.RouteArn, RouteKey: e.RouteKey,
			IdentitySource: encode(e.IdentitySource), Headers: e.Headers}
	default:
		return nil, false
	}
	strs := [6]string{ev.Type, ev.Version, ev.MethodArn, ev.RouteArn, ev.RouteKey}
	if ev.AuthorizationToken != nil {
		strs[5] = *ev.AuthorizationToken
	}
	for _, s := range strs {
		if !utf8.ValidString(s) {
			return nil, false
		}
	}
	for k, v := range ev.Headers {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, false
		}
	}
	if ev.Classify() != nil {
		return nil, false
	}
	return &ev, true
}

// encode is v as the event's encoding writes it (a string or a list of
// strings, which always encode).
func encode(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

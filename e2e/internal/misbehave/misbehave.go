// Package misbehave is a test authorizer that misbehaves on request, so
// that the local gateway's handling of broken authorizers can be compared
// in process and under the Lambda emulator. The bearer token says what to
// do: "error", "nonscalar", "slow", "unauthorized", "arnonly" (a policy
// for the incoming method ARN only), anything else allows everything.
package misbehave

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/aigate/aigate/policy"
)

type event struct {
	MethodArn string            `json:"methodArn"`
	Headers   map[string]string `json:"headers"`
}

// Invoke is the handler, usable in process (gateway.Invoker) and with
// lambda.Start.
func Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var ev event
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	token := ""
	for k, v := range ev.Headers {
		if strings.EqualFold(k, "authorization") {
			token = strings.TrimPrefix(v, "Bearer ")
		}
	}
	arn, err := policy.ParseMethodARN(ev.MethodArn)
	if err != nil {
		return nil, err
	}
	allowAll := policy.NewDocument().Allow(arn.StagePrefix() + "*").Document()
	resp := map[string]any{"principalId": "misbehave", "policyDocument": allowAll, "context": map[string]any{"mode": token}}
	switch token {
	case "error":
		return nil, errors.New("misbehave: failing on purpose")
	case "unauthorized":
		return nil, errors.New("Unauthorized")
	case "nonscalar":
		resp["context"] = map[string]any{"nested": map[string]any{"a": 1}}
	case "slow":
		select {
		case <-time.After(3 * time.Second):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	case "arnonly":
		resp["policyDocument"] = policy.NewDocument().Allow(ev.MethodArn).Document()
	}
	return json.Marshal(resp)
}

// Handler adapts Invoke to gateway.Invoker.
type Handler struct{}

// Invoke implements gateway.Invoker.
func (Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return Invoke(ctx, payload)
}

package apigw_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aigate/aigate/apigw"
)

// v2Event is an HTTP API 2.0 event for routeKey, reached at path, whose
// identity sources are the Authorization header and, when inCacheKey,
// $context.routeKey.
func v2Event(t *testing.T, credential, routeKey, verbPath string, inCacheKey bool) []byte {
	t.Helper()
	sources := []string{"Bearer " + credential}
	if inCacheKey {
		sources = append(sources, routeKey)
	}
	b, err := json.Marshal(map[string]any{
		"version": "2.0", "type": "REQUEST",
		"routeArn":       "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/" + verbPath,
		"routeKey":       routeKey,
		"identitySource": sources,
		"headers":        map[string]string{"authorization": "Bearer " + credential},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSimpleResponseFollowsTheRouteScope: a simple response is cached per
// identity-source values, here per credential and route key, so it answers
// for the route key as a whole. It used to be true on every route.
func TestSimpleResponseFollowsTheRouteScope(t *testing.T) {
	w := newWorld(t)
	for _, tc := range []struct {
		routeKey, verbPath string
		want               bool
	}{
		{"POST /v1/chat/completions", "POST/v1/chat/completions", true},
		{"GET /v1/models", "GET/v1/models", true},
		{"GET /v1/models/{id+}", "GET/v1/models/meta-llama/Llama-3-8B", true},
		{"POST /v1/responses", "POST/v1/responses", true},
		{"GET /v1/responses/{id+}", "GET/v1/responses/resp_1", true},
		{"POST /v1/messages", "POST/v1/messages", true},
		{"POST /v1/messages/count_tokens", "POST/v1/messages/count_tokens", true},
		{"GET /admin/v1/users", "GET/admin/v1/users", false},
		{"DELETE /v1/models/{id}", "DELETE/v1/models/gpt-4o", false},
		{"POST /v1/files", "POST/v1/files", false},
		// One answer for every path of the route: the incoming path is
		// in scope, but other paths of the same route key are not.
		{"ANY /v1/{proxy+}", "POST/v1/chat/completions", false},
		{"POST /v1/{proxy+}", "POST/v1/chat/completions", false},
		{"$default", "$default", false},
	} {
		t.Run(tc.routeKey, func(t *testing.T) {
			out, err := w.handler.Invoke(context.Background(), v2Event(t, w.valid, tc.routeKey, tc.verbPath, true))
			if err != nil {
				t.Fatal(err)
			}
			var r apigw.SimpleResponse
			if err := json.Unmarshal(out, &r); err != nil || r.IsAuthorized != tc.want {
				t.Fatalf("simple response = %s (%v), want isAuthorized %v", out, err, tc.want)
			}
		})
	}
}

// TestSimpleResponseNeedsTheRouteInTheCacheKey: without $context.routeKey
// among the identity sources, API Gateway would re-use one answer for
// every route, so no simple response is given: a 500, never an allow.
func TestSimpleResponseNeedsTheRouteInTheCacheKey(t *testing.T) {
	w := newWorld(t)
	for _, ev := range [][]byte{
		v2Event(t, w.valid, "POST /v1/chat/completions", "POST/v1/chat/completions", false),
		[]byte(`{"version":"2.0","type":"REQUEST","routeArn":"arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/v1/models",` +
			`"routeKey":"GET /v1/models","identitySource":"GET /v1/models","headers":{"authorization":"Bearer ` + w.valid + `"}}`),
		[]byte(`{"version":"2.0","type":"REQUEST","routeArn":"arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/v1/models",` +
			`"identitySource":[""],"headers":{"authorization":"Bearer ` + w.valid + `"}}`),
	} {
		if out, err := w.handler.Invoke(context.Background(), ev); err == nil || err.Error() == "Unauthorized" {
			t.Errorf("Invoke(%s) = %s, %v; want a 500-class error", ev, out, err)
		}
	}
	// Answering with IAM policies needs no route in the cache key: API
	// Gateway evaluates the cached policy against each route.
	out, err := w.iam.Invoke(context.Background(), v2Event(t, w.valid, "GET /v1/models", "GET/v1/models", false))
	if err != nil {
		t.Fatalf("IAM answer: %s, %v", out, err)
	}
}

func TestSimpleResponseForACallerWithNoModelIsFalseOnAnyRoute(t *testing.T) {
	w := newWorld(t)
	out, err := w.handler.Invoke(context.Background(), v2Event(t, w.noModels, "GET /admin/v1/users", "GET/admin/v1/users", false))
	var r apigw.SimpleResponse
	if err != nil || json.Unmarshal(out, &r) != nil || r.IsAuthorized {
		t.Fatalf("Invoke = %s, %v; want isAuthorized false", out, err)
	}
}

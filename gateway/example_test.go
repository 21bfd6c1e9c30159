package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/aigate/aigate/gateway"
	"github.com/aigate/aigate/policy"
)

// A REST API whose routes are protected by an in-process REQUEST authorizer,
// served on a loopback listener.
func ExampleNew() {
	cfg, err := gateway.ParseConfig([]byte(`
apis:
  - name: ai
    stage: local
    authorizers:
      keys:
        type: REQUEST
        function: authorizer
        identitySource: method.request.header.Authorization
    routes:
      - route: ANY /v1/{proxy+}
        authorizer: keys
        integration:
          type: MOCK
          response:
            body: '{"hello":"$context.authorizer.principalId"}'
`))
	if err != nil {
		panic(err)
	}
	authorizer := lambda.NewHandler(func(ctx context.Context, ev events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
		if ev.Headers["Authorization"] != "Bearer secret" {
			return events.APIGatewayCustomAuthorizerResponse{}, errors.New("Unauthorized")
		}
		arn, err := policy.ParseMethodARN(ev.MethodArn)
		if err != nil {
			return events.APIGatewayCustomAuthorizerResponse{}, err
		}
		// A policy for the whole stage, not only ev.MethodArn: the result
		// is cached and evaluated again for the next route.
		return events.APIGatewayCustomAuthorizerResponse{
			PrincipalID: "alice",
			PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
				Version: policy.Version,
				Statement: []events.IAMPolicyStatement{{
					Action: []string{policy.ActionInvoke}, Effect: policy.EffectAllow,
					Resource: []string{arn.StagePrefix() + "*"},
				}},
			},
		}, nil
	})
	g, err := gateway.New(context.Background(), cfg, gateway.Options{
		Functions: map[string]gateway.Invoker{"authorizer": authorizer},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	defer g.Close()
	srv := httptest.NewServer(g)
	defer srv.Close()

	for _, key := range []string{"Bearer secret", "Bearer wrong"} {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/models", nil)
		req.Header.Set("Authorization", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), string(body))
	}
	// Output:
	// 200  {"hello":"alice"}
	// 401 UnauthorizedException {"message":"Unauthorized"}
}

// An in-process handler behind the gateway reads the authorizer's decision
// from its request's context.
func ExampleAuthorizerFromContext() {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth, ok := gateway.AuthorizerFromContext(r.Context())
		if !ok {
			http.Error(w, "not behind an authorizer", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "principal %s, tenant %s", auth.PrincipalID, auth.Context["tenant"])
	})
	_ = gateway.Options{Handlers: map[string]http.Handler{"aiapi": handler}}
}

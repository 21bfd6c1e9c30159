// Command authorizer is a tiny REST REQUEST authorizer for the gateway's
// end-to-end test under the real aws-lambda-rie: "Bearer good" is allowed on
// the whole stage, anything else is Unauthorized.
package main

import (
	"context"
	"errors"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func handle(ctx context.Context, ev events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	if ev.Headers["Authorization"] != "Bearer good" {
		return events.APIGatewayCustomAuthorizerResponse{}, errors.New("Unauthorized")
	}
	// Cache-safe: the whole stage, not the incoming methodArn.
	i := strings.Index(ev.MethodArn, "/"+ev.RequestContext.Stage+"/")
	stage := ev.MethodArn[:i+len(ev.RequestContext.Stage)+2]
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: "emulated",
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version: "2012-10-17",
			Statement: []events.IAMPolicyStatement{{
				Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: []string{stage + "*"},
			}},
		},
		Context: map[string]any{"runtime": "rie", "path": ev.Path},
	}, nil
}

func main() { lambda.Start(handle) }

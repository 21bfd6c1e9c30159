package apigw

import (
	"github.com/aigate/aigate/policy"
)

// IAMResponse is the authorizer output for REST APIs and for HTTP APIs
// without simple responses. Unlike events.APIGatewayCustomAuthorizerResponse
// its policy decodes Action and Resource as string or array, as AWS accepts.
type IAMResponse struct {
	PrincipalID        string          `json:"principalId"`
	PolicyDocument     policy.Document `json:"policyDocument"`
	Context            map[string]any  `json:"context,omitempty"`
	UsageIdentifierKey string          `json:"usageIdentifierKey,omitempty"`
}

// SimpleResponse is the HTTP API 2.0 output when simple responses are on.
type SimpleResponse struct {
	IsAuthorized bool           `json:"isAuthorized"`
	Context      map[string]any `json:"context,omitempty"`
}

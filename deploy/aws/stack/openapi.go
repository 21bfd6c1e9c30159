package stack

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// The REST API is defined by an OpenAPI document (apigateway.RestApi's
// Body) rather than by Method and Integration resources, because only the
// document can carry what pulumi-aws v6.83.4's apigateway.Integration
// lacks: responseTransferMode STREAM on the response-streaming-invocations
// URI. The document also defines the authorizer (x-amazon-apigateway-
// authorizer), so that every method and its authorizer come from one place.

// AuthorizerName is the security scheme, and so API Gateway authorizer, name.
const AuthorizerName = "aigate"

// apiKeyScheme requires an API Gateway API key (usage plans); with
// apiKeySource AUTHORIZER the authorizer supplies it.
const apiKeyScheme = "api_key"

// Integration timeouts: a streamed answer may last 15 minutes; a buffered
// one is cut by API Gateway at 29 seconds.
const (
	streamingTimeoutMillis = 900000
	bufferedTimeoutMillis  = 29000
)

// OpenAPI is the part of an OpenAPI 3 document that API Gateway reads.
// Exported so that tests parse the body back into it.
type OpenAPI struct {
	OpenAPI      string                          `json:"openapi"`
	Info         OpenAPIInfo                     `json:"info"`
	APIKeySource string                          `json:"x-amazon-apigateway-api-key-source,omitempty"`
	Paths        map[string]map[string]Operation `json:"paths"`
	Components   struct {
		SecuritySchemes map[string]SecurityScheme `json:"securitySchemes"`
	} `json:"components"`
}

// OpenAPIInfo is the document's info object.
type OpenAPIInfo struct {
	Title   string `json:"title"`
	Version string `json:"version"`
}

// Operation is one method of a path.
type Operation struct {
	Parameters  []Parameter           `json:"parameters,omitempty"`
	Security    []map[string][]string `json:"security"`
	Integration Integration           `json:"x-amazon-apigateway-integration"`
}

// Parameter declares a path parameter.
type Parameter struct {
	Name     string            `json:"name"`
	In       string            `json:"in"`
	Required bool              `json:"required"`
	Schema   map[string]string `json:"schema"`
}

// Integration is x-amazon-apigateway-integration.
type Integration struct {
	Type                 string `json:"type"`
	HTTPMethod           string `json:"httpMethod"`
	URI                  string `json:"uri"`
	PassthroughBehavior  string `json:"passthroughBehavior"`
	TimeoutInMillis      int    `json:"timeoutInMillis"`
	ResponseTransferMode string `json:"responseTransferMode"`
	// Credentials would be a role API Gateway assumes to invoke the
	// function; we use a Lambda permission instead, so it stays empty.
	Credentials string `json:"credentials,omitempty"`
}

// SecurityScheme is a security scheme, with API Gateway's authorizer
// extension for the Lambda authorizer.
type SecurityScheme struct {
	Type       string      `json:"type"`
	Name       string      `json:"name"`
	In         string      `json:"in"`
	AuthType   string      `json:"x-amazon-apigateway-authtype,omitempty"`
	Authorizer *Authorizer `json:"x-amazon-apigateway-authorizer,omitempty"`
}

// Authorizer is x-amazon-apigateway-authorizer.
type Authorizer struct {
	Type                         string `json:"type"`
	AuthorizerURI                string `json:"authorizerUri"`
	IdentitySource               string `json:"identitySource,omitempty"`
	IdentityValidationExpression string `json:"identityValidationExpression,omitempty"`
	ResultTTLInSeconds           int    `json:"authorizerResultTtlInSeconds"`
	// Credentials stays empty: API Gateway may invoke the authorizer
	// through its Lambda permission. A Lambda execution role here (the
	// seed program's mistake) is one API Gateway cannot assume: every
	// call would fail with 500.
	Credentials string `json:"authorizerCredentials,omitempty"`
}

// restAPIValues are the parts of the document known only once AWS has
// answered: the account's partition and region, and the functions' ARNs.
type restAPIValues struct {
	Partition, Region, AuthorizerARN, AIAPIARN string
}

// placeholderValues stand for restAPIValues in the deployment trigger: the
// function names come from the configuration, so the ARNs are determined
// by it and the region and account; the hash covers the static parts.
func placeholderValues(c Config) restAPIValues {
	fn := "arn:${partition}:lambda:${region}:${account}:function:"
	return restAPIValues{
		Partition: "${partition}", Region: "${region}",
		AuthorizerARN: fn + c.authorizerName(), AIAPIARN: fn + c.aiapiName(),
	}
}

// lambdaInvokeURI is API Gateway's URI for invoking a function: the
// Invoke action, or InvokeWithResponseStream for a streamed answer.
func lambdaInvokeURI(v restAPIValues, fnARN string, streaming bool) string {
	if streaming {
		return fmt.Sprintf("arn:%s:apigateway:%s:lambda:path/2021-11-15/functions/%s/response-streaming-invocations", v.Partition, v.Region, fnARN)
	}
	return fmt.Sprintf("arn:%s:apigateway:%s:lambda:path/2015-03-31/functions/%s/invocations", v.Partition, v.Region, fnARN)
}

// openAPIDocument is the REST API's definition: every route authorized by
// the Lambda authorizer and proxied to the AI API. encoding/json writes
// struct fields in declaration order and map keys sorted, so the same
// inputs give the same bytes on every run and machine.
func openAPIDocument(c Config, v restAPIValues) ([]byte, error) {
	a := c.Authorizer
	doc := OpenAPI{
		OpenAPI: "3.0.1",
		Info:    OpenAPIInfo{Title: c.Name, Version: "1"},
		Paths:   map[string]map[string]Operation{},
	}
	authz := &Authorizer{
		Type:               strings.ToLower(a.Type),
		AuthorizerURI:      lambdaInvokeURI(v, v.AuthorizerARN, false),
		IdentitySource:     strings.Join(a.IdentitySources, ", "),
		ResultTTLInSeconds: a.ResultTTL,
	}
	if a.Type == "TOKEN" {
		authz.IdentityValidationExpression = a.ValidationExpression
	}
	header := "Authorization"
	if len(a.IdentitySources) > 0 {
		if h, ok := strings.CutPrefix(a.IdentitySources[0], "method.request.header."); ok {
			header = h
		}
	}
	doc.Components.SecuritySchemes = map[string]SecurityScheme{
		AuthorizerName: {Type: "apiKey", Name: header, In: "header", AuthType: "custom", Authorizer: authz},
	}
	security := map[string][]string{AuthorizerName: {}}
	if len(c.UsagePlans) > 0 {
		doc.APIKeySource = "AUTHORIZER"
		doc.Components.SecuritySchemes[apiKeyScheme] = SecurityScheme{Type: "apiKey", Name: "x-api-key", In: "header"}
		security[apiKeyScheme] = []string{}
	}
	integration := Integration{
		Type:                 "aws_proxy",
		HTTPMethod:           "POST", // Lambda is always invoked with POST
		URI:                  lambdaInvokeURI(v, v.AIAPIARN, c.AIAPI.ResponseStreaming),
		PassthroughBehavior:  "when_no_match",
		TimeoutInMillis:      bufferedTimeoutMillis,
		ResponseTransferMode: "BUFFERED",
	}
	if c.AIAPI.ResponseStreaming {
		integration.TimeoutInMillis = streamingTimeoutMillis
		integration.ResponseTransferMode = "STREAM"
	}
	for _, r := range c.Routes {
		op := Operation{Security: []map[string][]string{security}, Integration: integration}
		for _, p := range r.pathParameters() {
			op.Parameters = append(op.Parameters, Parameter{Name: p, In: "path", Required: true, Schema: map[string]string{"type": "string"}})
		}
		method := strings.ToLower(r.Method)
		if r.Method == "ANY" {
			method = "x-amazon-apigateway-any-method"
		}
		if doc.Paths[r.Path] == nil {
			doc.Paths[r.Path] = map[string]Operation{}
		}
		doc.Paths[r.Path][method] = op
	}
	return json.Marshal(doc)
}

// DeploymentTrigger is the REST deployment's trigger: the SHA-256 of the
// OpenAPI document with placeholders for what AWS fills in. The same
// configuration gives the same trigger on every run and machine (no map
// iteration order, no salted hash, as the seed's Python hash() was); any
// change to a route, method, authorizer setting or integration gives
// another, and so a new deployment.
func DeploymentTrigger(c Config) (string, error) {
	doc, err := openAPIDocument(c, placeholderValues(c))
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(doc)
	return hex.EncodeToString(sum[:]), nil
}

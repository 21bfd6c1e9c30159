package stack

import (
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/apigatewayv2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	awslambda "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// HTTPAPI is the optional HTTP API (v2): the same routes, authorizer and
// AI API as the REST API, at a lower price and without response streaming
// (HTTP APIs have none: the AI API buffers its answers there).
type HTTPAPI struct {
	API         *apigatewayv2.Api
	Authorizer  *apigatewayv2.Authorizer
	Integration *apigatewayv2.Integration
	Routes      []*apigatewayv2.Route
	Stage       *apigatewayv2.Stage
	AccessLogs  *cloudwatch.LogGroup
	// AuthorizerPermission and IntegrationPermission are scoped to this API.
	AuthorizerPermission, IntegrationPermission *awslambda.Permission
}

var httpAccessLogFormat = accessLogFormat(map[string]string{
	"requestId":          "$context.requestId",
	"requestTime":        "$context.requestTimeEpoch",
	"ip":                 "$context.identity.sourceIp",
	"routeKey":           "$context.routeKey",
	"path":               "$context.path",
	"status":             "$context.status",
	"responseLength":     "$context.responseLength",
	"authorizerError":    "$context.authorizer.error",
	"integrationStatus":  "$context.integrationStatus",
	"integrationLatency": "$context.integrationLatency",
	"errorMessage":       "$context.error.message",
})

// httpIdentitySource translates a REST identity source into an HTTP API one.
func httpIdentitySource(s string) string {
	for rest, http := range map[string]string{
		"method.request.header.":      "$request.header.",
		"method.request.querystring.": "$request.querystring.",
		"stageVariables.":             "$stageVariables.",
		"context.":                    "$context.",
	} {
		if v, ok := strings.CutPrefix(s, rest); ok {
			return http + v
		}
	}
	return s
}

// RouteKeySource is the HTTP API identity source that makes API Gateway
// cache an authorizer's answer per route: a simple response is one boolean,
// which would otherwise be re-used for every route.
const RouteKeySource = "$context.routeKey"

// httpIdentitySources are the HTTP API authorizer's identity sources: the
// configured ones, translated, and RouteKeySource, without which the
// authorizer refuses to give simple responses (apigw).
func httpIdentitySources(rest []string) []string {
	var out []string
	for _, s := range rest {
		out = append(out, httpIdentitySource(s))
	}
	if !slices.Contains(out, RouteKeySource) {
		out = append(out, RouteKeySource)
	}
	return out
}

func newHTTPAPI(ctx *pulumi.Context, c Config, authorizer, aiapi *Function) (*HTTPAPI, error) {
	h := &HTTPAPI{}
	var err error
	if h.API, err = apigatewayv2.NewApi(ctx, "http", &apigatewayv2.ApiArgs{
		Name:         pulumi.String(c.Name + "-http"),
		Description:  pulumi.String("aigate: OpenAI-compatible AI API behind a Lambda authorizer (HTTP API)"),
		ProtocolType: pulumi.String("HTTP"),
		Tags:         pulumi.ToStringMap(c.Tags),
	}); err != nil {
		return nil, err
	}
	var sources pulumi.StringArray
	for _, s := range httpIdentitySources(c.Authorizer.IdentitySources) {
		sources = append(sources, pulumi.String(s))
	}
	// HTTP APIs have REQUEST authorizers only; payload 2.0 with simple
	// responses, which the authorizer gives (AIGATE_HTTP_API_RESPONSE)
	// only when the route key is part of the cache key.
	if h.Authorizer, err = apigatewayv2.NewAuthorizer(ctx, "http", &apigatewayv2.AuthorizerArgs{
		ApiId:                          h.API.ID(),
		Name:                           pulumi.String(AuthorizerName),
		AuthorizerType:                 pulumi.String("REQUEST"),
		AuthorizerUri:                  authorizer.Function.InvokeArn,
		AuthorizerPayloadFormatVersion: pulumi.String("2.0"),
		EnableSimpleResponses:          pulumi.Bool(true),
		IdentitySources:                sources,
		AuthorizerResultTtlInSeconds:   pulumi.Int(c.Authorizer.ResultTTL),
	}); err != nil {
		return nil, err
	}
	if h.Integration, err = apigatewayv2.NewIntegration(ctx, "http", &apigatewayv2.IntegrationArgs{
		ApiId:                h.API.ID(),
		IntegrationType:      pulumi.String("AWS_PROXY"),
		IntegrationUri:       aiapi.Function.InvokeArn,
		IntegrationMethod:    pulumi.String("POST"),
		PayloadFormatVersion: pulumi.String("2.0"),
		TimeoutMilliseconds:  pulumi.Int(30000),
	}); err != nil {
		return nil, err
	}
	for _, r := range c.Routes {
		// The route key names the resource: stable whatever the order.
		route, err := apigatewayv2.NewRoute(ctx, "http "+r.String(), &apigatewayv2.RouteArgs{
			ApiId:             h.API.ID(),
			RouteKey:          pulumi.String(r.String()),
			AuthorizationType: pulumi.String("CUSTOM"),
			AuthorizerId:      h.Authorizer.ID(),
			Target:            pulumi.Sprintf("integrations/%s", h.Integration.ID()),
		})
		if err != nil {
			return nil, err
		}
		h.Routes = append(h.Routes, route)
	}
	if h.AccessLogs, err = cloudwatch.NewLogGroup(ctx, "http-access", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String("/aws/apigateway/" + c.Name + "-http/access"),
		RetentionInDays: pulumi.Int(c.LogRetentionDays),
		Tags:            pulumi.ToStringMap(c.Tags),
	}); err != nil {
		return nil, err
	}
	if h.Stage, err = apigatewayv2.NewStage(ctx, "http", &apigatewayv2.StageArgs{
		ApiId:      h.API.ID(),
		Name:       pulumi.String(c.StageName),
		AutoDeploy: pulumi.Bool(true),
		AccessLogSettings: apigatewayv2.StageAccessLogSettingsArgs{
			DestinationArn: h.AccessLogs.Arn,
			Format:         pulumi.String(httpAccessLogFormat),
		},
		DefaultRouteSettings: apigatewayv2.StageDefaultRouteSettingsArgs{
			ThrottlingRateLimit:    pulumi.Float64(c.ThrottleRateLimit),
			ThrottlingBurstLimit:   pulumi.Int(c.ThrottleBurstLimit),
			DetailedMetricsEnabled: pulumi.Bool(true),
		},
		Tags: pulumi.ToStringMap(c.Tags),
	}); err != nil {
		return nil, err
	}
	if h.AuthorizerPermission, err = awslambda.NewPermission(ctx, "http-authorizer", &awslambda.PermissionArgs{
		Action:    pulumi.String("lambda:InvokeFunction"),
		Function:  authorizer.Function.Name,
		Principal: pulumi.String("apigateway.amazonaws.com"),
		SourceArn: pulumi.Sprintf("%s/authorizers/%s", h.API.ExecutionArn, h.Authorizer.ID()),
	}); err != nil {
		return nil, err
	}
	if h.IntegrationPermission, err = awslambda.NewPermission(ctx, "http-aiapi", &awslambda.PermissionArgs{
		Action:    pulumi.String("lambda:InvokeFunction"),
		Function:  aiapi.Function.Name,
		Principal: pulumi.String("apigateway.amazonaws.com"),
		SourceArn: pulumi.Sprintf("%s/%s/*/v1/*", h.API.ExecutionArn, c.StageName),
	}); err != nil {
		return nil, err
	}
	return h, nil
}

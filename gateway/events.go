package gateway

import (
	"encoding/base64"
	"net"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// The events below are built with aws-lambda-go's types, field by field as
// AWS fills them (compare events/testdata in aws-lambda-go). REST and HTTP API
// 1.0 events keep the client's spelling of header names when the listener
// recorded it (PreserveHeaderCase), else Go's canonical one; HTTP API 2.0
// events lower-case them. API Gateway adds Host and X-Forwarded-For/Port/Proto.

// tokenEvent is the REST TOKEN event: type, token and methodArn, nothing else.
func (rq *request) tokenEvent(arn, token string) events.APIGatewayCustomAuthorizerRequest {
	return events.APIGatewayCustomAuthorizerRequest{Type: "TOKEN", AuthorizationToken: token, MethodArn: arn}
}

// requestEvent is the REST REQUEST event. It never carries the body.
func (rq *request) requestEvent(arn string) events.APIGatewayCustomAuthorizerRequestTypeRequest {
	headers, multi := rq.restHeaders()
	query, multiQuery := rq.restQuery()
	return events.APIGatewayCustomAuthorizerRequestTypeRequest{
		Type:                            "REQUEST",
		MethodArn:                       arn,
		Resource:                        rq.route.resource,
		Path:                            rq.r.URL.Path,
		HTTPMethod:                      rq.r.Method,
		Headers:                         headers,
		MultiValueHeaders:               multi,
		QueryStringParameters:           orEmpty(query),
		MultiValueQueryStringParameters: orEmptyMulti(multiQuery),
		PathParameters:                  orEmpty(rq.pathParams()),
		StageVariables:                  orEmpty(rq.api.stageVars),
		RequestContext:                  rq.authorizerRequestContext(),
	}
}

func (rq *request) authorizerRequestContext() events.APIGatewayCustomAuthorizerRequestTypeRequestContext {
	return events.APIGatewayCustomAuthorizerRequestTypeRequestContext{
		Path:         rq.r.URL.Path,
		AccountID:    rq.api.accountID,
		ResourceID:   rq.route.resourceID,
		Stage:        rq.api.stage,
		RequestID:    rq.id,
		Identity:     events.APIGatewayCustomAuthorizerRequestTypeRequestIdentity{SourceIP: sourceIP(rq.r.RemoteAddr)},
		ResourcePath: rq.route.resource,
		HTTPMethod:   rq.r.Method,
		APIID:        rq.api.apiID,
	}
}

// httpV1AuthorizerEvent is the HTTP API payload format 1.0 event: the REST
// REQUEST shape plus version and the identity-source values joined by commas
// (also in authorizationToken, as AWS's fixture shows).
func (rq *request) httpV1AuthorizerEvent(arn, identity string) events.APIGatewayV2CustomAuthorizerV1Request {
	headers, _ := rq.restHeaders()
	query, _ := rq.restQuery()
	return events.APIGatewayV2CustomAuthorizerV1Request{
		Version:               "1.0",
		Type:                  "REQUEST",
		MethodArn:             arn,
		IdentitySource:        identity,
		AuthorizationToken:    identity,
		Resource:              rq.route.resource,
		Path:                  rq.r.URL.Path,
		HTTPMethod:            rq.r.Method,
		Headers:               headers,
		QueryStringParameters: orEmpty(query),
		PathParameters:        orEmpty(rq.pathParams()),
		StageVariables:        orEmpty(rq.api.stageVars),
		// The same fields as the REST REQUEST event's requestContext.
		RequestContext: events.APIGatewayV2CustomAuthorizerV1RequestTypeRequestContext(rq.authorizerRequestContext()),
	}
}

// httpV2AuthorizerEvent is the HTTP API payload format 2.0 event: routeArn,
// identitySource as a list, lowercased headers, cookies apart.
func (rq *request) httpV2AuthorizerEvent(arn string, identity []string) events.APIGatewayV2CustomAuthorizerV2Request {
	headers, cookies := rq.v2Headers()
	return events.APIGatewayV2CustomAuthorizerV2Request{
		Version:               "2.0",
		Type:                  "REQUEST",
		RouteArn:              arn,
		IdentitySource:        identity,
		RouteKey:              rq.route.key,
		RawPath:               rq.r.URL.EscapedPath(),
		RawQueryString:        rq.r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: rq.v2Query(),
		RequestContext:        rq.v2RequestContext(),
		PathParameters:        rq.pathParams(),
		StageVariables:        rq.api.stageVars,
	}
}

func (rq *request) v2RequestContext() events.APIGatewayV2HTTPRequestContext {
	return events.APIGatewayV2HTTPRequestContext{
		RouteKey:     rq.route.key,
		AccountID:    rq.api.accountID,
		Stage:        rq.api.stage,
		RequestID:    rq.id,
		APIID:        rq.api.apiID,
		DomainName:   rq.r.Host,
		DomainPrefix: domainPrefix(rq.r.Host),
		Time:         rq.start.UTC().Format(clfTime),
		TimeEpoch:    rq.start.UnixMilli(),
		HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
			Method:    rq.r.Method,
			Path:      rq.r.URL.EscapedPath(),
			Protocol:  rq.r.Proto,
			SourceIP:  sourceIP(rq.r.RemoteAddr),
			UserAgent: rq.r.UserAgent(),
		},
	}
}

// restProxyEvent is the REST Lambda proxy event: aws-lambda-go's
// APIGatewayProxyRequest with what its encoding leaves out and AWS sends:
// "body": null without a body, "isBase64Encoded" always, and every field of
// requestContext.identity, null when unknown (clientCert: no mTLS).
type restProxyEvent struct {
	events.APIGatewayProxyRequest
	RequestContext  restProxyContext `json:"requestContext"`
	Body            *string          `json:"body"`
	IsBase64Encoded bool             `json:"isBase64Encoded"`
}

type restProxyContext struct {
	events.APIGatewayProxyRequestContext
	Identity restIdentity `json:"identity"`
}

type restIdentity struct {
	CognitoIdentityPoolID         *string                                                                `json:"cognitoIdentityPoolId"`
	AccountID                     *string                                                                `json:"accountId"`
	CognitoIdentityID             *string                                                                `json:"cognitoIdentityId"`
	Caller                        *string                                                                `json:"caller"`
	APIKey                        *string                                                                `json:"apiKey"`
	APIKeyID                      *string                                                                `json:"apiKeyId"`
	AccessKey                     *string                                                                `json:"accessKey"`
	SourceIP                      string                                                                 `json:"sourceIp"`
	CognitoAuthenticationType     *string                                                                `json:"cognitoAuthenticationType"`
	CognitoAuthenticationProvider *string                                                                `json:"cognitoAuthenticationProvider"`
	UserArn                       *string                                                                `json:"userArn"`
	UserAgent                     string                                                                 `json:"userAgent"`
	User                          *string                                                                `json:"user"`
	ClientCert                    *events.APIGatewayCustomAuthorizerRequestTypeRequestIdentityClientCert `json:"clientCert"`
}

// restProxyEvent builds the REST Lambda proxy event. requestContext.authorizer
// holds the context stringified, principalId and integrationLatency (ms, a
// number).
func (rq *request) restProxyEvent(body []byte) restProxyEvent {
	headers, multi := rq.restHeaders()
	query, multiQuery := rq.restQuery()
	ev := restProxyEvent{
		APIGatewayProxyRequest: events.APIGatewayProxyRequest{
			Resource:                        rq.route.resource,
			Path:                            rq.r.URL.Path,
			HTTPMethod:                      rq.r.Method,
			Headers:                         headers,
			MultiValueHeaders:               multi,
			QueryStringParameters:           query,
			MultiValueQueryStringParameters: multiQuery,
			PathParameters:                  rq.pathParams(),
			StageVariables:                  rq.api.stageVars,
		},
		RequestContext: restProxyContext{
			APIGatewayProxyRequestContext: events.APIGatewayProxyRequestContext{
				AccountID:         rq.api.accountID,
				ResourceID:        rq.route.resourceID,
				Stage:             rq.api.stage,
				DomainName:        rq.r.Host,
				DomainPrefix:      domainPrefix(rq.r.Host),
				RequestID:         rq.id,
				ExtendedRequestID: rq.extendedID,
				Protocol:          rq.r.Proto,
				ResourcePath:      rq.route.resource,
				Path:              rq.r.URL.Path,
				Authorizer:        rq.restAuthorizerMap(),
				HTTPMethod:        rq.r.Method,
				RequestTime:       rq.start.UTC().Format(clfTime),
				RequestTimeEpoch:  rq.start.UnixMilli(),
				APIID:             rq.api.apiID,
			},
			Identity: restIdentity{SourceIP: sourceIP(rq.r.RemoteAddr), UserAgent: rq.r.UserAgent()},
		},
	}
	if len(body) > 0 {
		text, b64 := encodeBody(body)
		ev.Body, ev.IsBase64Encoded = &text, b64
	}
	return ev
}

// httpProxyEvent is the HTTP API Lambda proxy event (payload format 2.0); the
// authorizer's context is under requestContext.authorizer.lambda.
func (rq *request) httpProxyEvent(body []byte) events.APIGatewayV2HTTPRequest {
	headers, cookies := rq.v2Headers()
	text, b64 := encodeBody(body)
	c := rq.v2RequestContext()
	c.Authorizer = rq.v2AuthorizerDescription()
	return events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              rq.route.key,
		RawPath:               rq.r.URL.EscapedPath(),
		RawQueryString:        rq.r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: rq.v2Query(),
		PathParameters:        rq.pathParams(),
		RequestContext:        c,
		StageVariables:        rq.api.stageVars,
		Body:                  text,
		IsBase64Encoded:       b64,
	}
}

// restAuthorizerMap is requestContext.authorizer of a REST proxy event.
func (rq *request) restAuthorizerMap() map[string]any {
	if rq.auth == nil {
		return nil
	}
	m := make(map[string]any, len(rq.auth.strContext)+2)
	for k, v := range rq.auth.strContext {
		if rq.auth.context[k] == nil {
			m[k] = nil // a null context value stays null
		} else {
			m[k] = v
		}
	}
	m["principalId"] = rq.auth.principalID
	m["integrationLatency"] = rq.authLatency.Milliseconds()
	return m
}

func (rq *request) v2AuthorizerDescription() *events.APIGatewayV2HTTPRequestContextAuthorizerDescription {
	if rq.auth == nil {
		return nil
	}
	lambda := rq.auth.context
	if lambda == nil {
		lambda = map[string]any{}
	}
	return &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: lambda}
}

// encodeBody returns the body as event text. A body that is not valid UTF-8
// is base64-encoded (AWS decides by binaryMediaTypes or, for HTTP APIs, by
// content type; the local gateway never corrupts a binary body instead).
func encodeBody(body []byte) (string, bool) {
	if utf8.Valid(body) {
		return string(body), false
	}
	return base64.StdEncoding.EncodeToString(body), true
}

// restHeaders returns the headers as REST events carry them: the last value
// of each, and all values.
func (rq *request) restHeaders() (map[string]string, map[string][]string) {
	single := make(map[string]string, len(rq.r.Header)+4)
	multi := make(map[string][]string, len(rq.r.Header)+4)
	added := rq.addedHeaders()
	for k, vs := range rq.r.Header {
		if len(vs) == 0 {
			continue
		}
		if _, ok := added[k]; ok {
			continue // API Gateway's value, in its spelling, below
		}
		name := rq.headerName(k)
		single[name] = vs[len(vs)-1]
		multi[name] = vs
	}
	for k, v := range added {
		single[k] = v
		multi[k] = []string{v}
	}
	return single, multi
}

// v2Headers returns lowercased headers with repeated values joined by
// commas, and the cookies, which HTTP API events carry apart.
func (rq *request) v2Headers() (map[string]string, []string) {
	out := make(map[string]string, len(rq.r.Header)+4)
	var cookies []string
	for k, vs := range rq.r.Header {
		if len(vs) == 0 {
			continue
		}
		lk := strings.ToLower(k)
		if lk == "cookie" {
			for _, v := range vs {
				for c := range strings.SplitSeq(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		out[lk] = strings.Join(vs, ",")
	}
	for k, v := range rq.addedHeaders() {
		out[strings.ToLower(k)] = v
	}
	return out, cookies
}

// addedHeaders are the headers API Gateway adds: Host (which Go keeps out of
// Header) and X-Forwarded-For/Port/Proto.
func (rq *request) addedHeaders() map[string]string {
	proto := "http"
	if rq.r.TLS != nil {
		proto = "https"
	}
	ip := sourceIP(rq.r.RemoteAddr)
	xff := ip
	if prev := rq.r.Header.Get("X-Forwarded-For"); prev != "" {
		xff = prev + ", " + ip
	}
	h := map[string]string{"Host": rq.r.Host, "X-Forwarded-For": xff, "X-Forwarded-Proto": proto}
	if la, ok := rq.r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, port, err := net.SplitHostPort(la.String()); err == nil {
			h["X-Forwarded-Port"] = port
		}
	}
	return h
}

// restQuery returns the query as REST events carry it (nil maps when there
// is none: null in the proxy event).
func (rq *request) restQuery() (map[string]string, map[string][]string) {
	q := rq.queryValues()
	if len(q) == 0 {
		return nil, nil
	}
	single := make(map[string]string, len(q))
	for k, vs := range q {
		single[k] = vs[len(vs)-1]
	}
	return single, q
}

// v2Query joins repeated parameters with commas, as HTTP API events do.
func (rq *request) v2Query() map[string]string {
	q := rq.queryValues()
	if len(q) == 0 {
		return nil
	}
	out := make(map[string]string, len(q))
	for k, vs := range q {
		out[k] = strings.Join(vs, ",")
	}
	return out
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func orEmptyMulti(m map[string][]string) map[string][]string {
	if m == nil {
		return map[string][]string{}
	}
	return m
}

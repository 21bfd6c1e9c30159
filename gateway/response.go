package gateway

import "net/http"

// apiError is one of the answers API Gateway itself gives. Every refusal the
// gateway sends is in the two tables below, so that a correction is one line.
type apiError struct {
	status      int
	errorType   string // x-amzn-ErrorType (REST APIs); "" for none
	body        []byte
	contentType string // "" for application/json
}

// errKind indexes the tables.
type errKind uint8

const (
	errUnauthorized       errKind = iota // 401: no/empty identity, regex mismatch, "Unauthorized"
	errExplicitDeny                      // 403: a Deny matched
	errImplicitDeny                      // 403: no Allow matched
	errNotAuthorized                     // 403: simple response isAuthorized false (HTTP APIs)
	errAuthorizerFailure                 // 500: authorizer error, malformed output, timeout
	errNoRoute                           // no route matches
	errARNTooLong                        // 414
	errIntegrationFailure                // integration error or malformed proxy response
	errIntegrationTimeout                // integration timeout
	errPayloadTooLarge                   // body over 10 MB
	errKinds
)

// restErrors are a REST API's answers.
var restErrors = [errKinds]apiError{
	errUnauthorized: {401, "UnauthorizedException", []byte(`{"message":"Unauthorized"}`), ""},
	// The 403 bodies say "Message" with a capital M: that is what AWS
	// sends for authorizer denials (unlike every other body here).
	errExplicitDeny:  {403, "AccessDeniedException", []byte(`{"Message":"User is not authorized to access this resource with an explicit deny"}`), ""},
	errImplicitDeny:  {403, "AccessDeniedException", []byte(`{"Message":"User is not authorized to access this resource"}`), ""},
	errNotAuthorized: {403, "AccessDeniedException", []byte(`{"Message":"User is not authorized to access this resource"}`), ""},
	// {"message":null}: AWS's body for AuthorizerConfigurationException.
	errAuthorizerFailure: {500, "AuthorizerConfigurationException", []byte(`{"message":null}`), ""},
	// REST APIs answer an unknown route as if authentication were missing.
	errNoRoute: {403, "MissingAuthenticationTokenException", []byte(`{"message":"Missing Authentication Token"}`), ""},
	// The 414 body is not recorded from AWS; the status is documented.
	errARNTooLong:         {414, "", []byte(`{"message":"Request-URI Too Long"}`), ""},
	errIntegrationFailure: {502, "InternalServerErrorException", []byte(`{"message": "Internal server error"}`), ""},
	errIntegrationTimeout: {504, "", []byte(`{"message": "Endpoint request timed out"}`), ""},
	// Recorded from AWS (an edge-optimized API; github.com/koki-develop/
	// lgtm-generator issue 10): the CloudFront edge answers, in plain
	// text, without API Gateway's headers.
	errPayloadTooLarge: {413, "", []byte("HTTP content length exceeded 10485760 bytes."), "text; charset=utf-8"},
}

// httpErrors are an HTTP API's answers. HTTP APIs send no x-amzn-ErrorType.
var httpErrors = [errKinds]apiError{
	errUnauthorized: {401, "", []byte(`{"message":"Unauthorized"}`), ""},
	// A refusal by an HTTP API authorizer: commonly reported as 403
	// Forbidden, but no AWS-recorded capture exists (one report saw 401
	// for a Deny policy). All three refusals share this one entry.
	errExplicitDeny:       {403, "", forbiddenBody, ""},
	errImplicitDeny:       {403, "", forbiddenBody, ""},
	errNotAuthorized:      {403, "", forbiddenBody, ""},
	errAuthorizerFailure:  {500, "", []byte(`{"message":"Internal Server Error"}`), ""},
	errNoRoute:            {404, "", []byte(`{"message":"Not Found"}`), ""},
	errARNTooLong:         {414, "", []byte(`{"message":"Request-URI Too Long"}`), ""},
	errIntegrationFailure: {500, "", []byte(`{"message":"Internal Server Error"}`), ""},
	errIntegrationTimeout: {503, "", []byte(`{"message":"Service Unavailable"}`), ""},
	// Not recorded from AWS for HTTP APIs.
	errPayloadTooLarge: {413, "", []byte(`{"message":"Request Entity Too Large"}`), ""},
}

var forbiddenBody = []byte(`{"message":"Forbidden"}`)

// noAPIError answers a path under no API's base path, as a custom domain
// without a matching base path mapping does.
var noAPIError = apiError{403, "ForbiddenException", forbiddenBody, ""}

// outcomeErrors maps a refusing authorizer outcome to its answer.
var outcomeErrors = map[outcome]errKind{
	outcomeUnauthorized:  errUnauthorized,
	outcomeExplicitDeny:  errExplicitDeny,
	outcomeImplicitDeny:  errImplicitDeny,
	outcomeNotAuthorized: errNotAuthorized,
	outcomeFailure:       errAuthorizerFailure,
	outcomeARNTooLong:    errARNTooLong,
}

var jsonContentType = []string{"application/json"}

func writeAPIError(w http.ResponseWriter, e *apiError) {
	h := w.Header()
	if e.contentType != "" {
		h["Content-Type"] = []string{e.contentType}
	} else {
		h["Content-Type"] = jsonContentType
	}
	if e.errorType != "" {
		h[headerErrorType] = []string{e.errorType}
	}
	w.WriteHeader(e.status)
	w.Write(e.body)
}

// writeError sends the API's answer of kind k.
func (rq *request) writeError(w http.ResponseWriter, k errKind) {
	if rq.api.httpAPI {
		writeAPIError(w, &httpErrors[k])
	} else {
		writeAPIError(w, &restErrors[k])
	}
}

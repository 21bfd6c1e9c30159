package aiapi

import (
	"encoding/json"
	"net/http"
)

// OpenAI's error types and codes, as its clients test for them.
const (
	typeInvalidRequest    = "invalid_request_error"
	typeServer            = "server_error"
	typeInsufficientQuota = "insufficient_quota"

	codeModelNotFound     = "model_not_found"
	codeInvalidAPIKey     = "invalid_api_key"
	codeRateLimitExceeded = "rate_limit_exceeded"
	codeInsufficientQuota = "insufficient_quota"
	codeUnknownURL        = "unknown_url"
	codeUpstreamError     = "upstream_error"
	codeUpstreamTimeout   = "upstream_timeout"
	codeInternal          = "internal_error"
)

// apiError is OpenAI's error object. Param and Code are null when unset, as
// OpenAI sends them.
type apiError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// writeError answers with OpenAI's error shape:
// {"error":{"message":…,"type":…,"param":…,"code":…}}.
func writeError(w http.ResponseWriter, status int, typ, code, param, message string) {
	body, _ := json.Marshal(struct {
		Error apiError `json:"error"`
	}{apiError{Message: message, Type: typ, Param: optional(param), Code: optional(code)}})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

// errorEvent is the server-sent event that ends a stream which failed after
// its 200 was sent: OpenAI's clients raise it as an error.
func errorEvent(typ, code, message string) []byte {
	body, _ := json.Marshal(struct {
		Error apiError `json:"error"`
	}{apiError{Message: message, Type: typ, Code: optional(code)}})
	return body
}

// errorWriter answers a failure in the caller's protocol: writeError for
// OpenAI's protocols, the Messages API's shape for Anthropic callers.
type errorWriter func(w http.ResponseWriter, status int, typ, code, param, message string)

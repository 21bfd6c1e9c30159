package gateway

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestHandlerIntegrationSeesTheAuthorizationAndStreams(t *testing.T) {
	const cfg = `
apis:
  - name: ai
    basePath: /ai
    authorizers:
      keys: {type: REQUEST, function: auth, identitySource: method.request.header.Authorization}
    routes:
      - route: ANY /v1/{proxy+}
        authorizer: keys
        integration: {type: HANDLER, handler: aiapi}
`
	var seen struct {
		auth  Authorization
		ok    bool
		path  string
		id    string
		idOK  bool
		reqID string
	}
	aiapi := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.auth, seen.ok = AuthorizerFromContext(r.Context())
		seen.id, seen.idOK = RequestIDFromContext(r.Context())
		seen.path = r.URL.Path
		// Under its wire spelling: Get would look for X-Amzn-Requestid.
		seen.reqID = strings.Join(w.Header()["x-amzn-RequestId"], ",")
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("flush through the gateway: %v", err)
			}
		}
	})
	srv, _ := serve(t, cfg, Options{Functions: map[string]Invoker{"auth": &testAuthorizer{}}, Handlers: map[string]http.Handler{"aiapi": aiapi}})

	req, _ := http.NewRequest("POST", srv.URL+"/ai/v1/chat/completions", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer allow-h")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var events []string
	for sc.Scan() {
		if line := sc.Text(); line != "" {
			events = append(events, line)
		}
	}
	if strings.Join(events, "|") != "data: 0|data: 1|data: 2" {
		t.Errorf("stream = %q", events)
	}
	if !seen.ok || seen.auth.PrincipalID != "user-1" || seen.auth.Context["rpm"] != "60" || seen.auth.Context["beta"] != "true" || seen.auth.CacheHit {
		t.Errorf("AuthorizerFromContext = %+v, %v", seen.auth, seen.ok)
	}
	if seen.path != "/v1/chat/completions" {
		t.Errorf("handler path = %q, want it relative to the base path", seen.path)
	}
	if !seen.idOK || seen.id != resp.Header.Get("x-amzn-RequestId") || seen.reqID != seen.id {
		t.Errorf("request id %q / header %q / response %q", seen.id, seen.reqID, resp.Header.Get("x-amzn-RequestId"))
	}
	if _, ok := AuthorizerFromContext(req.Context()); ok {
		t.Error("AuthorizerFromContext found an authorization outside the gateway")
	}
}

package aiapi_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/aigate/aigate/aiapi"
	"github.com/aigate/aigate/aiapi/provider/builtin"
	"github.com/aigate/aigate/store/sqlite"
)

// The AI API is an http.Handler. Whatever sits in front of it (the Lambda
// adapter, the local gateway) hands it the authorizer's context; here it is
// written by hand.
func Example() {
	dir, _ := os.MkdirTemp("", "aiapi-example")
	defer os.RemoveAll(dir)
	st, _ := sqlite.Open(context.Background(), filepath.Join(dir, "aigate.db"))
	defer st.Close()

	cfg := aiapi.DefaultConfig() // the model "echo", offline
	cfg.Ledger, cfg.Keys = st, st
	cfg.Registry = builtin.Registry() // the providers aigate ships
	cfg.LookupSecret = os.LookupEnv   // where apiKeyEnv's names are read
	cfg.Logger = slog.New(slog.DiscardHandler)
	srv, err := aiapi.New(context.Background(), cfg)
	if err != nil {
		panic(err)
	}

	ctx := aiapi.WithAuthorizerContext(context.Background(), map[string]string{
		"principalId": "user-1", "kind": "jwt", "models": `["echo"]`, "rpm": "60",
	})
	body := `{"model":"echo","messages":[{"role":"user","content":"Hello, aigate!"}]}`
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, "POST", "/v1/chat/completions", strings.NewReader(body)))
	fmt.Println(rec.Code, rec.Header().Get("X-Ratelimit-Remaining-Requests"))
	fmt.Println(strings.Contains(rec.Body.String(), `"content":"Hello, aigate!"`))
	// Output:
	// 200 59
	// true
}

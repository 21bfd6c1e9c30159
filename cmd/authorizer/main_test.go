package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aigate/aigate/jwtauth"
	"github.com/aigate/aigate/jwtauth/devissuer"
)

// TestBootstrapUnderEmulatorMatchesAuthorizeCommand builds the real Lambda
// binary, runs it under the AWS Lambda Runtime Interface Emulator and checks
// that every event gets exactly the answer `aigate authorize` prints.
func TestBootstrapUnderEmulatorMatchesAuthorizeCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries and runs the Lambda emulator")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := t.TempDir()
	data := filepath.Join(t.TempDir(), "data")
	bootstrap := filepath.Join(bin, "bootstrap")
	aigate := filepath.Join(bin, "aigate")
	run(t, ctx, nil, "go", "build", "-tags", "lambda.norpc,aigate_sqlite", "-ldflags", "-s -w", "-o", bootstrap, ".")
	run(t, ctx, nil, "go", "build", "-o", aigate, "../aigate")
	rie := strings.TrimSpace(run(t, ctx, nil, "go", "tool", "-n", "aws-lambda-rie"))

	// JWTs from an issuer whose keys the Lambda is given in its
	// environment, so that it verifies without a network call.
	iss, err := devissuer.LoadOrCreate(t.TempDir(), "https://idp.example.com")
	if err != nil {
		t.Fatal(err)
	}
	jwtCfg, _ := json.Marshal(jwtauth.Config{Issuers: []jwtauth.IssuerConfig{iss.Config()}})
	jwt, err := iss.Issue(devissuer.Claims{Subject: "alice", Tenant: "acme", Models: []string{"echo"}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"AIGATE_DATA=" + data, "AIGATE_JWT_CONFIG=" + string(jwtCfg)}
	create := func(args ...string) string {
		var out struct{ ID, Key string }
		b := run(t, ctx, env, aigate, append([]string{"keys", "create", "--json"}, args...)...)
		if err := json.Unmarshal([]byte(b), &out); err != nil || out.Key == "" {
			t.Fatalf("keys create: %s (%v)", b, err)
		}
		return out.Key
	}
	valid := create("--name", "valid", "--tenant", "acme", "--models", "gpt-4o*,echo", "--rpm", "60")
	revoked := create("--name", "revoked")
	run(t, ctx, env, aigate, "keys", "revoke", strings.Split(revoked, "_")[1])
	noModels := create("--name", "nomodels", "--models", "")

	invokeURL, _ := startEmulator(t, ctx, rie, bootstrap, env)

	token := func(cred string) string {
		return fmt.Sprintf(`{"type":"TOKEN","authorizationToken":"Bearer %s","methodArn":"arn:aws:execute-api:us-east-1:123456789012:api123/prod/POST/v1/chat/completions"}`, cred)
	}
	request := func(cred string) string {
		return fmt.Sprintf(`{"type":"REQUEST","methodArn":"arn:aws:execute-api:us-east-1:123456789012:api123/prod/GET/v1/models","resource":"/v1/{proxy+}","path":"/v1/models","httpMethod":"GET","headers":{"Authorization":"Bearer %s"},"requestContext":{"stage":"prod","apiId":"api123"}}`, cred)
	}
	v2 := func(cred string) string {
		return fmt.Sprintf(`{"version":"2.0","type":"REQUEST","routeArn":"arn:aws:execute-api:us-east-1:123456789012:api123/$default/GET/v1/models","identitySource":["Bearer %s"],"headers":{"authorization":"Bearer %s"},"requestContext":{"stage":"$default"}}`, cred, cred)
	}
	cases := map[string]string{
		"token valid":     token(valid),
		"token revoked":   token(revoked),
		"token malformed": token(valid[:len(valid)-2]),
		"token empty":     token(""),
		"request valid":   request(valid),
		"request revoked": request(revoked),
		"request no key":  `{"type":"REQUEST","methodArn":"arn:aws:execute-api:us-east-1:123456789012:api123/prod/GET/v1/models","headers":{}}`,
		"v2 valid":        v2(valid),
		"v2 revoked":      v2(revoked),
		"malformed event": `{"hello":"world"}`,
		"token no models": token(noModels),
		"jwt valid":       token(jwt),
		"jwt tampered":    token(jwt[:len(jwt)-4] + "AAAA"),
	}
	for name, ev := range cases {
		// One at a time: the emulator crashes on concurrent invocations.
		t.Run(name, func(t *testing.T) {
			want := authorizeCmd(t, ctx, env, aigate, ev)
			got := invoke(t, invokeURL, ev)
			if !jsonEqual(t, got, want) {
				t.Fatalf("emulator answered\n%s\nbut aigate authorize printed\n%s", got, want)
			}
		})
	}
	// And the answers are the right ones, not merely equal.
	if got := invoke(t, invokeURL, token(valid)); !strings.Contains(got, `"Effect":"Allow"`) {
		t.Fatalf("valid key: %s", got)
	}
	if got := invoke(t, invokeURL, token(revoked)); got != `{"errorMessage":"Unauthorized","errorType":"errorString"}` {
		t.Fatalf("revoked key: %s", got)
	}
	if got := invoke(t, invokeURL, token(jwt)); !strings.Contains(got, `"principalId":"jwt:https://idp.example.com#alice"`) || !strings.Contains(got, `"Effect":"Allow"`) {
		t.Fatalf("jwt: %s", got)
	}
	if got := invoke(t, invokeURL, token(jwt[:len(jwt)-4]+"AAAA")); !strings.Contains(got, `"errorMessage":"Unauthorized"`) {
		t.Fatalf("tampered jwt: %s", got)
	}
	if got := invoke(t, invokeURL, token(noModels)); !strings.Contains(got, `"Effect":"Deny"`) {
		t.Fatalf("key without models: %s", got)
	}
}

func run(t *testing.T, ctx context.Context, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, stderr.String())
	}
	return string(out)
}

// authorizeCmd runs `aigate authorize -` and returns what it printed; exit
// code 1 goes with an error payload.
func authorizeCmd(t *testing.T, ctx context.Context, env []string, aigate, event string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, aigate, "authorize", "-")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(event)
	out, err := cmd.Output()
	isError := strings.Contains(string(out), `"errorMessage"`)
	if code := cmd.ProcessState.ExitCode(); (code == 1) != isError || (code != 0 && code != 1) {
		t.Fatalf("aigate authorize exited %d (%v) printing %s", code, err, out)
	}
	return strings.TrimSpace(string(out))
}

func invoke(t *testing.T, url, event string) string {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(event))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("invoke status %d: %s", resp.StatusCode, b)
	}
	return strings.TrimSpace(string(b))
}

func decode(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %s", s)
	}
	return v
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("emulator did not listen on %s", addr)
}

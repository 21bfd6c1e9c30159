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
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aigate/aigate/jwtauth"
	"github.com/aigate/aigate/jwtauth/devissuer"
)

// TestBootstrapUnderEmulatorAnswersRightlyAndLikeTheCLI builds the real
// Lambda binary, runs it under the AWS Lambda Runtime Interface Emulator and
// checks every event's answer against its expected outcome (allow with the
// principal and resource, deny of the stage, 401, or a fail-closed error),
// and against what `aigate authorize` prints for it.
func TestBootstrapUnderEmulatorAnswersRightlyAndLikeTheCLI(t *testing.T) {
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
	const (
		unauthorized = `{"errorMessage":"Unauthorized","errorType":"errorString"}`
		chatARN      = "arn:aws:execute-api:us-east-1:123456789012:api123/prod/POST/v1/chat/completions"
		modelsARN    = "arn:aws:execute-api:us-east-1:123456789012:api123/prod/GET/v1/models"
	)
	validID := "key:" + strings.Split(valid, "_")[1]
	jwtID := "jwt:https://idp.example.com#alice"
	// Each case has its absolute answer; and the Lambda, built and run
	// under the emulator, must print what the CLI prints for it (the same
	// code, but another build, entry point and wire path).
	cases := []struct {
		name, event string
		check       func(t *testing.T, got string)
	}{
		{"token valid", token(valid), allows(validID, chatARN, "acme")},
		{"token revoked", token(revoked), is(unauthorized)},
		{"token malformed", token(valid[:len(valid)-2]), is(unauthorized)},
		{"token empty", token(""), is(unauthorized)},
		{"request valid", request(valid), allows(validID, modelsARN, "acme")},
		{"request revoked", request(revoked), is(unauthorized)},
		{"request no key", `{"type":"REQUEST","methodArn":"` + modelsARN + `","headers":{}}`, is(unauthorized)},
		{"v2 valid", v2(valid), failsClosed},
		{"v2 revoked", v2(revoked), is(unauthorized)},
		{"malformed event", `{"hello":"world"}`, failsClosed},
		{"token no models", token(noModels), deniesTheStage("arn:aws:execute-api:us-east-1:123456789012:api123/prod/*")},
		{"jwt valid", token(jwt), allows(jwtID, chatARN, "acme")},
		{"jwt tampered", token(jwt[:len(jwt)-4] + "AAAA"), is(unauthorized)},
	}
	for _, tc := range cases {
		// One at a time: the emulator crashes on concurrent invocations.
		t.Run(tc.name, func(t *testing.T) {
			got := invoke(t, invokeURL, tc.event)
			tc.check(t, got)
			if want := authorizeCmd(t, ctx, env, aigate, tc.event); !jsonEqual(t, got, want) {
				t.Fatalf("emulator answered\n%s\nbut aigate authorize printed\n%s", got, want)
			}
		})
	}
}

// answer is an authorizer Lambda's output: an IAM policy, or an error.
type answer struct {
	PrincipalID    string `json:"principalId"`
	PolicyDocument struct {
		Statement []struct {
			Effect   string
			Resource []string
		}
	} `json:"policyDocument"`
	Context      map[string]any `json:"context"`
	ErrorMessage string         `json:"errorMessage"`
}

func parseAnswer(t *testing.T, got string) answer {
	t.Helper()
	var a answer
	if err := json.Unmarshal([]byte(got), &a); err != nil {
		t.Fatalf("answer %s: %v", got, err)
	}
	return a
}

func is(want string) func(*testing.T, string) {
	return func(t *testing.T, got string) {
		t.Helper()
		if got != want {
			t.Errorf("answer = %s, want %s", got, want)
		}
	}
}

// allows: an Allow for principal whose resources include arn, with the
// tenant in the context.
func allows(principal, arn, tenant string) func(*testing.T, string) {
	return func(t *testing.T, got string) {
		t.Helper()
		a := parseAnswer(t, got)
		if a.ErrorMessage != "" || a.PrincipalID != principal || len(a.PolicyDocument.Statement) != 1 ||
			a.PolicyDocument.Statement[0].Effect != "Allow" || !slices.Contains(a.PolicyDocument.Statement[0].Resource, arn) ||
			a.Context["tenant"] != tenant || a.Context["principalId"] != principal {
			t.Errorf("answer = %s, want an Allow for %s covering %s, tenant %s", got, principal, arn, tenant)
		}
	}
}

func deniesTheStage(stage string) func(*testing.T, string) {
	return func(t *testing.T, got string) {
		t.Helper()
		a := parseAnswer(t, got)
		if len(a.PolicyDocument.Statement) != 1 || a.PolicyDocument.Statement[0].Effect != "Deny" ||
			!slices.Equal(a.PolicyDocument.Statement[0].Resource, []string{stage}) {
			t.Errorf("answer = %s, want a Deny of %s", got, stage)
		}
	}
}

// failsClosed: an error that is not "Unauthorized" (API Gateway's 500),
// never a policy.
func failsClosed(t *testing.T, got string) {
	t.Helper()
	a := parseAnswer(t, got)
	if a.ErrorMessage == "" || a.ErrorMessage == "Unauthorized" || a.PrincipalID != "" || len(a.PolicyDocument.Statement) != 0 {
		t.Errorf("answer = %s, want an error other than Unauthorized", got)
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

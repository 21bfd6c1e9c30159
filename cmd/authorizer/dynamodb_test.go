package main_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aigate/aigate/store/dynamodb/dynalite"
)

// TestBootstrapOnDynamoDB runs the real Lambda binary under the Lambda
// emulator against dynalite, selected by AIGATE_STORE alone, with keys made
// by `aigate keys create --store dynamodb://…`: a valid key is allowed, a
// revoked one refused, an expired one refused and recorded as expired by
// the authorizer itself, and a store it cannot read fails closed. It logs
// the cold start (emulator process start to first answer) and the warm
// invoke latency with a DynamoDB read on every invoke.
func TestBootstrapOnDynamoDB(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries and runs the Lambda emulator and dynalite")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, err := dynalite.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })

	bin := t.TempDir()
	bootstrap := filepath.Join(bin, "bootstrap")
	aigate := filepath.Join(bin, "aigate")
	run(t, ctx, nil, "go", "build", "-tags", "lambda.norpc", "-ldflags", "-s -w", "-o", bootstrap, ".")
	run(t, ctx, nil, "go", "build", "-o", aigate, "../aigate")
	rie := strings.TrimSpace(run(t, ctx, nil, "go", "tool", "-n", "aws-lambda-rie"))

	secret := make([]byte, 32)
	rand.Read(secret)
	storeURL := "dynamodb://authz_?endpoint=" + srv.Endpoint
	// AIGATE_DATA points at an empty directory: nothing may come from SQLite
	// or a hash.key file. No AWS credentials: the loopback endpoint gets
	// dummy ones.
	env := []string{
		"AIGATE_DATA=" + filepath.Join(t.TempDir(), "unused"),
		"AIGATE_HASH_KEY=" + hex.EncodeToString(secret),
		"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_SESSION_TOKEN=", "AWS_PROFILE=", "AWS_REGION=",
	}
	cli := func(args ...string) string {
		return run(t, ctx, env, aigate, append(args, "--store", storeURL)...)
	}
	cli("store", "init")
	create := func(args ...string) (id, key string) {
		var out struct{ ID, Key string }
		b := cli(append([]string{"keys", "create", "--json"}, args...)...)
		if err := json.Unmarshal([]byte(b), &out); err != nil || out.Key == "" {
			t.Fatalf("keys create: %s (%v)", b, err)
		}
		return out.ID, out.Key
	}
	expiredID, expired := create("--name", "expiring", "--expires", "1s")
	expiresAt := time.Now().Add(time.Second)
	_, valid := create("--name", "valid", "--tenant", "acme", "--models", "gpt-4o*,echo", "--rpm", "60")
	revokedID, revoked := create("--name", "revoked")
	cli("keys", "revoke", revokedID)

	// The Lambda reads the store from AIGATE_STORE only, and keeps no key
	// in memory: every invoke below reads DynamoDB.
	lambdaEnv := append(slices.Clone(env), "AIGATE_STORE="+storeURL, "AIGATE_KEY_CACHE_TTL=0s")
	invokeURL, started := startEmulator(t, ctx, rie, bootstrap, lambdaEnv)

	token := func(cred string) string {
		return `{"type":"TOKEN","authorizationToken":"Bearer ` + cred + `","methodArn":"arn:aws:execute-api:us-east-1:123456789012:api123/prod/POST/v1/chat/completions"}`
	}
	request := func(cred string) string {
		return `{"type":"REQUEST","methodArn":"arn:aws:execute-api:us-east-1:123456789012:api123/prod/GET/v1/models","resource":"/v1/{proxy+}","path":"/v1/models","httpMethod":"GET","headers":{"Authorization":"Bearer ` + cred + `"},"requestContext":{"stage":"prod","apiId":"api123"}}`
	}

	first := invoke(t, invokeURL, token(valid))
	cold := time.Since(started)
	if !strings.Contains(first, `"Effect":"Allow"`) {
		t.Fatalf("valid key, first invoke: %s", first)
	}
	const unauthorized = `{"errorMessage":"Unauthorized","errorType":"errorString"}`
	for _, tc := range []struct {
		name, event string
		allow       bool
	}{
		{"token valid", token(valid), true},
		{"token revoked", token(revoked), false},
		{"request valid", request(valid), true},
		{"request revoked", request(revoked), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := invoke(t, invokeURL, tc.event)
			if tc.allow != strings.Contains(got, `"Effect":"Allow"`) || (!tc.allow && got != unauthorized) {
				t.Fatalf("answer %s, want allow=%v", got, tc.allow)
			}
			// The CLI, reading the same store, decides the same.
			if want := authorizeCmd(t, ctx, lambdaEnv, aigate, tc.event); !jsonEqual(t, got, want) {
				t.Errorf("emulator answered\n%s\nbut aigate authorize printed\n%s", got, want)
			}
		})
	}

	t.Run("expired key is refused and recorded by the authorizer", func(t *testing.T) {
		time.Sleep(time.Until(expiresAt.Add(50 * time.Millisecond)))
		if got := invoke(t, invokeURL, token(expired)); got != unauthorized {
			t.Fatalf("expired key: %s", got)
		}
		var shown struct {
			Status  string
			History []struct{ Action, Actor string }
		}
		b := cli("keys", "show", expiredID, "--json")
		if err := json.Unmarshal([]byte(b), &shown); err != nil {
			t.Fatal(err)
		}
		if n := len(shown.History); shown.Status != "expired" || n != 2 ||
			shown.History[n-1].Action != "expired" || shown.History[n-1].Actor != "authorizer" {
			t.Errorf("after the authorizer saw the expired key: %s", b)
		}
	})

	// Warm invokes, one at a time (the emulator crashes on concurrent ones):
	// each must give the first invoke's Allow, or its latency means nothing.
	var lat []time.Duration
	for i := range 200 {
		start := time.Now()
		got := invoke(t, invokeURL, token(valid))
		lat = append(lat, time.Since(start))
		if !jsonEqual(t, got, first) {
			t.Fatalf("warm invoke %d answered\n%s\nwhere the first answered\n%s", i, got, first)
		}
	}
	slices.Sort(lat)
	t.Logf("authorizer bootstrap on dynalite: cold start %v (emulator start to first answer); warm invoke with a GetItem each: p50 %v, p99 %v, max %v (n=%d)",
		cold.Round(time.Millisecond), lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1], len(lat))

	t.Run("store failure fails closed", func(t *testing.T) {
		// Tables that do not exist: every read fails. The answer must be an
		// error other than Unauthorized (API Gateway: 500), never an Allow.
		brokenEnv := append(slices.Clone(env), "AIGATE_STORE=dynamodb://missing_?endpoint="+srv.Endpoint, "AIGATE_KEY_CACHE_TTL=0s")
		url, _ := startEmulator(t, ctx, rie, bootstrap, brokenEnv)
		got := invoke(t, url, token(valid))
		if strings.Contains(got, "Allow") || got == unauthorized || !strings.Contains(got, `"errorMessage"`) {
			t.Fatalf("with the store failing: %s", got)
		}
	})
}

// startEmulator runs bootstrap under aws-lambda-rie and returns its invoke
// URL and when the emulator process started.
func startEmulator(t *testing.T, ctx context.Context, rie, bootstrap string, env []string) (string, time.Time) {
	t.Helper()
	port, apiPort := freePort(t), freePort(t)
	cmd := exec.CommandContext(ctx, rie,
		"--runtime-interface-emulator-address", "127.0.0.1:"+port,
		"--runtime-api-address", "127.0.0.1:"+apiPort,
		bootstrap)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	started := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitListening(t, "127.0.0.1:"+port)
	return "http://127.0.0.1:" + port + "/2015-03-31/functions/function/invocations", started
}

// jsonEqual compares two JSON documents by value, not by spelling.
func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()
	return reflect.DeepEqual(decode(t, a), decode(t, b))
}

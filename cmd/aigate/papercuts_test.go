package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGlobalFlagsWorkBeforeTheCommand(t *testing.T) {
	c := newCLI(t)
	k := c.create("--name", "svc")
	for _, args := range [][]string{
		{"--data", c.data, "keys", "list"},
		{"--data=" + c.data, "keys", "list"},
		{"-data", c.data, "--store", "sqlite:" + filepath.Join(c.data, "aigate.db"), "keys", "list"},
	} {
		var out, errb bytes.Buffer
		err := run(context.Background(), args, strings.NewReader(""), &out, &errb)
		if code := exitCode(err, &errb); code != 0 || !strings.Contains(out.String(), k.ID) {
			t.Errorf("aigate %v: exit %d, stdout %q, stderr %q; want the key %s listed", args, code, out.String(), errb.String(), k.ID)
		}
	}
}

// issuerOf reads a JWT's "iss" claim (no verification: the test made it).
func issuerOf(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(strings.TrimSpace(tok), ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(b, &claims); err != nil {
		t.Fatal(err)
	}
	return claims.Iss
}

func TestTokenNamesTheIssuerWhereServeListensUnlessAddrIsGiven(t *testing.T) {
	c := newCLI(t)
	t.Setenv("AIGATE_ADDR", "")
	if got := issuerOf(t, c.ok("token", "--sub", "alice")); got != "http://127.0.0.1:8080" {
		t.Errorf("without serve.addr the issuer is %q, want the default", got)
	}
	if err := writeServeAddr(c.data, "127.0.0.1:9123"); err != nil {
		t.Fatal(err)
	}
	if got := issuerOf(t, c.ok("token", "--sub", "alice")); got != "http://127.0.0.1:9123" {
		t.Errorf("after serve recorded 127.0.0.1:9123 the issuer is %q", got)
	}
	if got := issuerOf(t, c.ok("token", "--sub", "alice", "--addr", "127.0.0.1:7000")); got != "http://127.0.0.1:7000" {
		t.Errorf("--addr does not win: issuer %q", got)
	}
	if b, err := os.ReadFile(filepath.Join(c.data, serveAddrFile)); err != nil || strings.TrimSpace(string(b)) != "127.0.0.1:9123" {
		t.Errorf("serve.addr = %q, %v", b, err)
	}
}

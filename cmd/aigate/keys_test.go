package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// cli runs the aigate command in process against a data directory.
type cli struct {
	t    *testing.T
	data string
}

func newCLI(t *testing.T) *cli {
	t.Setenv("AIGATE_DATA", "")
	t.Setenv("AIGATE_STORE", "")
	t.Setenv("AIGATE_HASH_KEY", "")
	return &cli{t: t, data: filepath.Join(t.TempDir(), "data")}
}

func (c *cli) run(stdin string, args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	var out, errb bytes.Buffer
	args = append(args, "--data", c.data)
	err := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	code = exitCode(err, &errb)
	return out.String(), errb.String(), code
}

func (c *cli) ok(args ...string) string {
	c.t.Helper()
	out, errs, code := c.run("", args...)
	if code != 0 {
		c.t.Fatalf("aigate %v: exit %d: %s", args, code, errs)
	}
	return out
}

type createdKey struct {
	ID     string   `json:"id"`
	Key    string   `json:"key"`
	Name   string   `json:"name"`
	Tenant string   `json:"tenant"`
	Models []string `json:"models"`
	Status string   `json:"status"`
	Limits struct {
		RPM            int64 `json:"rpm"`
		TPM            int64 `json:"tpm"`
		TokensPerDay   int64 `json:"tokens_per_day"`
		TokensPerMonth int64 `json:"tokens_per_month"`
	} `json:"limits"`
	ExpiresAt string `json:"expires_at"`
}

func (c *cli) create(args ...string) createdKey {
	c.t.Helper()
	var k createdKey
	out := c.ok(append([]string{"keys", "create", "--json"}, args...)...)
	if err := json.Unmarshal([]byte(out), &k); err != nil {
		c.t.Fatalf("keys create --json printed %q: %v", out, err)
	}
	return k
}

func TestKeysCreateJSON(t *testing.T) {
	c := newCLI(t)
	k := c.create("--name", "svc", "--tenant", "acme", "--models", "gpt-4o*, claude-*", "--rpm", "60", "--tpm", "1000",
		"--tokens-per-day", "5000", "--tokens-per-month", "90000", "--expires", "30d")
	if !strings.HasPrefix(k.Key, "aig_"+k.ID+"_") || k.Name != "svc" || k.Tenant != "acme" || k.Status != "active" {
		t.Fatalf("created = %+v", k)
	}
	if strings.Join(k.Models, ",") != "gpt-4o*,claude-*" || k.Limits.RPM != 60 || k.Limits.TPM != 1000 ||
		k.Limits.TokensPerDay != 5000 || k.Limits.TokensPerMonth != 90000 || k.ExpiresAt == "" {
		t.Fatalf("created = %+v", k)
	}
	// The key is shown once: nothing else prints it.
	for _, args := range [][]string{{"keys", "list"}, {"keys", "list", "--json"}, {"keys", "show", k.ID}, {"keys", "show", k.ID, "--json"}} {
		if out := c.ok(args...); strings.Contains(out, k.Key[len(k.Key)-38:]) {
			t.Fatalf("%v printed the secret", args)
		}
	}
	assertNotStoredInClear(t, c.data, k.ID, strings.TrimPrefix(k.Key, "aig_"+k.ID+"_"))
}

// assertNotStoredInClear reads every file of the SQLite database (the main
// file and, SQLite writing ahead, its -wal and -shm) and fails if secret is
// in any. That the key id is found proves the files read hold the key.
func assertNotStoredInClear(t *testing.T, dir, id, secret string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "aigate.db*"))
	if err != nil || !slices.Contains(files, filepath.Join(dir, "aigate.db")) {
		t.Fatalf("database files %q (%v): want aigate.db among them", files, err)
	}
	var all []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(secret)) {
			t.Fatalf("the secret is stored in clear in %s", filepath.Base(f))
		}
		all = append(all, b...)
	}
	if len(secret) < 20 || !bytes.Contains(all, []byte(id)) {
		t.Fatalf("secret %d bytes long, key id found: %v; the check proves nothing", len(secret), bytes.Contains(all, []byte(id)))
	}
}

func TestKeysLifecycleHistory(t *testing.T) {
	c := newCLI(t)
	k := c.create("--name", "svc")
	var rotated createdKey
	if err := json.Unmarshal([]byte(c.ok("keys", "rotate", k.ID, "--grace", "1h", "--json")), &rotated); err != nil {
		t.Fatal(err)
	}
	if rotated.ID != k.ID || rotated.Key == k.Key || !strings.HasPrefix(rotated.Key, "aig_"+k.ID) {
		t.Fatalf("rotated = %+v", rotated)
	}
	c.ok("keys", "revoke", k.ID)
	if out := c.ok("keys", "revoke", k.ID); !strings.Contains(out, "already revoked") {
		t.Fatalf("second revoke: %s", out)
	}
	var shown struct {
		Status  string `json:"status"`
		History []struct {
			Action, Actor string
		} `json:"history"`
	}
	if err := json.Unmarshal([]byte(c.ok("keys", "show", k.ID, "--json")), &shown); err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, h := range shown.History {
		actions = append(actions, h.Action+" by "+h.Actor)
	}
	want := "created by aigate keys create,rotated by aigate keys rotate,revoked by aigate keys revoke"
	if shown.Status != "revoked" || strings.Join(actions, ",") != want {
		t.Fatalf("status %s, history %q; want %q", shown.Status, actions, want)
	}
	if _, errs, code := c.run("", "keys", "rotate", k.ID); code != 2 || !strings.Contains(errs, "revoked") {
		t.Fatalf("rotating a revoked key: exit %d, %s", code, errs)
	}
}

func TestBadInputExitsTwoAndChangesNothing(t *testing.T) {
	c := newCLI(t)
	k := c.create("--name", "svc")
	before := c.ok("keys", "show", k.ID, "--json")
	for _, args := range [][]string{
		{"keys", "create"},
		{"keys", "create", "--name", "x", "--rpm", "-1"},
		{"keys", "create", "--name", "x", "--rpm", "many"},
		{"keys", "create", "--name", "x", "--expires", "yesterday"},
		{"keys", "create", "--name", "x", "--expires", "2001-01-01T00:00:00Z"},
		{"keys", "create", "--name", "x", "--models", "a b"},
		{"keys", "create", "--name", "x", "--models", "gpt#4"},
		{"keys", "create", "--name", "x", "--bogus"},
		{"keys", "create", "--name", "x", "extra"},
		{"keys", "show"},
		{"keys", "show", "nosuchkey"},
		{"keys", "revoke", "nosuchkey"},
		{"keys", "rotate", k.ID, "--grace", "-1h"},
		{"keys", "rotate", k.ID, "--grace", "soon"},
		{"keys", "frobnicate"},
		{"frobnicate"},
		{"authorize", "/nonexistent/event.json"},
	} {
		out, errs, code := c.run("", args...)
		if code != 2 {
			t.Errorf("aigate %v: exit %d, want 2 (stdout %q)", args, code, out)
		}
		if strings.TrimSpace(errs) == "" {
			t.Errorf("aigate %v: no error message", args)
		}
	}
	var list []createdKey
	if err := json.Unmarshal([]byte(c.ok("keys", "list", "--json")), &list); err != nil || len(list) != 1 {
		t.Fatalf("keys after bad input: %v (%v)", list, err)
	}
	if after := c.ok("keys", "show", k.ID, "--json"); after != before {
		t.Fatalf("key changed by bad input:\n%s\n%s", before, after)
	}
}

func TestKeysListTenantFilter(t *testing.T) {
	c := newCLI(t)
	c.create("--name", "a", "--tenant", "acme")
	c.create("--name", "b", "--tenant", "globex")
	var list []createdKey
	if err := json.Unmarshal([]byte(c.ok("keys", "list", "--tenant", "acme", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != "a" {
		t.Fatalf("list = %+v", list)
	}
}

func TestAuthorizeCommand(t *testing.T) {
	c := newCLI(t)
	k := c.create("--name", "svc", "--models", "echo")
	ev := `{"type":"TOKEN","authorizationToken":"Bearer ` + k.Key + `","methodArn":"arn:aws:execute-api:us-east-1:123456789012:api/prod/GET/v1/models"}`
	out, _, code := c.run(ev, "authorize", "-")
	if code != 0 || !strings.Contains(out, `"principalId":"key:`+k.ID+`"`) || !strings.Contains(out, `"Effect":"Allow"`) {
		t.Fatalf("authorize valid: exit %d: %s", code, out)
	}
	file := filepath.Join(t.TempDir(), "ev.json")
	os.WriteFile(file, []byte(strings.Replace(ev, k.Key, "aig_nope", 1)), 0o600)
	out, _, code = c.run("", "authorize", file)
	if code != 1 || strings.TrimSpace(out) != `{"errorMessage":"Unauthorized","errorType":"errorString"}` {
		t.Fatalf("authorize bad key: exit %d: %s", code, out)
	}
	out, _, code = c.run(`{"nope":1}`, "authorize")
	if code != 1 || !strings.Contains(out, `"errorMessage"`) || strings.Contains(out, "Unauthorized") {
		t.Fatalf("authorize malformed event: exit %d: %s", code, out)
	}
}

func TestParseDuration(t *testing.T) {
	for in, ok := range map[string]bool{"1s": true, "90m": true, "720h": true, "30d": true, "0d": true, "d": false, "-1h": false, "3x": false, "1.5d": false} {
		if _, err := parseDuration(in); (err == nil) != ok {
			t.Errorf("parseDuration(%q) err = %v, want ok=%v", in, err, ok)
		}
	}
}

func TestKeysCreateAdminHasTheRoleAndNoModelsUnlessGiven(t *testing.T) {
	c := newCLI(t)
	for _, tc := range []struct {
		args       []string
		wantModels string
	}{
		{[]string{"--name", "ops", "--admin"}, ""},
		{[]string{"--name", "ops-and-models", "--admin", "--models", "echo"}, "echo"},
	} {
		k := c.create(tc.args...)
		var shown struct {
			Role   string   `json:"role"`
			Models []string `json:"models"`
		}
		out := c.ok("keys", "show", k.ID, "--json")
		if err := json.Unmarshal([]byte(out), &shown); err != nil {
			t.Fatalf("keys show --json printed %q: %v", out, err)
		}
		if shown.Role != "admin" || strings.Join(shown.Models, ",") != tc.wantModels {
			t.Errorf("keys create %v: stored role %q, models %q; want admin, %q", tc.args, shown.Role, shown.Models, tc.wantModels)
		}
	}
	plain := c.create("--name", "svc")
	if out := c.ok("keys", "show", plain.ID, "--json"); strings.Contains(out, `"role"`) {
		t.Errorf("a key created without --admin shows a role: %s", out)
	}
}

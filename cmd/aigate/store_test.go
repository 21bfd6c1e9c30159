package main

import (
	"strings"
	"testing"

	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/store/dynamodb"
	"github.com/aigate/aigate/store/dynamodb/dynalite"
)

// `store init` creates the DynamoDB tables once and finds them the second
// time; the store URL may come from AIGATE_STORE or --store, and the keys
// commands then use the same tables.
func TestStoreInitOnDynamoDBIsIdempotent(t *testing.T) {
	srv, err := dynalite.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	c := newCLI(t)
	url := "dynamodb://cli_?endpoint=" + srv.Endpoint
	t.Setenv("AIGATE_STORE", url)
	out := c.ok("store", "init")
	if strings.Count(out, "created") != 5 || !strings.Contains(out, "cli_keys") || !strings.HasSuffix(out, "store ready\n") {
		t.Errorf("first store init printed:\n%s", out)
	}
	t.Setenv("AIGATE_STORE", "")
	out = c.ok("store", "init", "--store", url)
	if strings.Count(out, "exists") != 5 || strings.Contains(out, "created") {
		t.Errorf("second store init printed:\n%s", out)
	}
	k := c.create("--name", "on dynamodb", "--store", url)
	if got := c.ok("keys", "list", "--store", url); !strings.Contains(got, k.ID) {
		t.Errorf("keys list on dynamodb:\n%s", got)
	}
	// The embedded store (no --store) is another store: the key is not there.
	if got := c.ok("keys", "list"); strings.Contains(got, k.ID) {
		t.Errorf("keys list on sqlite shows the dynamodb key:\n%s", got)
	}
}

func TestStoreInitOnSQLite(t *testing.T) {
	c := newCLI(t)
	if out := c.ok("store", "init"); out != "store ready\n" {
		t.Errorf("store init printed %q", out)
	}
	if _, _, code := c.run("", "store", "drop"); code != 2 {
		t.Errorf("store drop exited %d, want 2", code)
	}
}

// `store migrate` on DynamoDB rewrites usage recorded with a bare key id
// (before principal ids had a kind), so that `usage --key` finds it; on
// SQLite, opening the database migrated it already.
func TestStoreMigrateGivesDynamoDBUsageItsKind(t *testing.T) {
	srv, err := dynalite.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	c := newCLI(t)
	url := "dynamodb://mig_?endpoint=" + srv.Endpoint
	c.ok("store", "init", "--store", url)
	k := c.create("--name", "old usage", "--store", url)
	cfg, err := dynamodb.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	st, err := dynamodb.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l := &quota.Limiter{Ledger: st}
	r, _, err := l.Reserve(t.Context(), quota.Request{ID: "old-1", PrincipalID: k.ID, Model: "echo", Tokens: 100})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Settle(t.Context(), r, 3, 4); err != nil {
		t.Fatal(err)
	}
	if out := c.ok("usage", "--key", k.ID, "--store", url); strings.Contains(out, "echo") {
		t.Fatalf("usage before the migration already shows the bare id's row:\n%s", out)
	}
	if out := c.ok("store", "migrate", "--store", url); !strings.Contains(out, "3 counters, 0 reservations, 1 ledger rows") {
		t.Errorf("store migrate printed:\n%s", out)
	}
	if out := c.ok("usage", "--key", k.ID, "--store", url); !strings.Contains(out, "echo") || !strings.Contains(out, k.ID) {
		t.Errorf("usage after the migration:\n%s", out)
	}
	if out := c.ok("store", "migrate", "--store", url); !strings.Contains(out, "0 counters, 0 reservations, 0 ledger rows") {
		t.Errorf("second store migrate printed:\n%s", out)
	}
	if out := c.ok("store", "migrate"); out != "store migrated\n" {
		t.Errorf("store migrate on SQLite printed %q", out)
	}
}

package main

import (
	"strings"
	"testing"

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

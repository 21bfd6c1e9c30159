package dynamodb

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/aigate/aigate/store/dynamodb/dynalite"
)

// endpoint is the dynalite every test of the package shares; each test
// has tables of its own under a fresh prefix.
var endpoint string

func TestMain(m *testing.M) {
	srv, err := dynalite.Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "store/dynamodb tests need dynalite:", err)
		os.Exit(1)
	}
	endpoint = srv.Endpoint
	code := m.Run()
	srv.Close()
	os.Exit(code)
}

var prefixes atomic.Int64

// newPrefix returns a table prefix no other test uses.
func newPrefix() string { return fmt.Sprintf("t%d_", prefixes.Add(1)) }

// openStore opens a store over fresh tables, which are deleted when the
// test ends; the caller closes the store.
func openStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.Context(), Config{Prefix: newPrefix(), Endpoint: endpoint})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := s.CreateTables(t.Context()); err != nil {
		t.Fatalf("CreateTables: %v", err)
	}
	t.Cleanup(func() {
		for _, name := range s.TableNames() {
			// Keeps dynalite's memory flat over the run; a failure only
			// wastes memory.
			s.client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
		}
	})
	return s
}

// openClosing is openStore, closed when the test ends.
func openClosing(t testing.TB) *Store {
	t.Helper()
	s := openStore(t)
	t.Cleanup(func() { s.Close() })
	return s
}

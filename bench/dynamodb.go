package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/aigate/aigate/store/dynamodb/dynalite"
)

// DynamoRow is what one chat completion costs in DynamoDB on AWS, for one
// case of cmd/aiapi's BenchmarkDynamoDBPerRequest: calls, and capacity
// units as DynamoDB (dynalite) reports them.
type DynamoRow struct {
	What                  string
	Bench                 string
	Reads, Writes         float64 // calls per request
	ReadUnits, WriteUnits float64 // RCU, WCU per request
}

// dynamoBench is the Go benchmark behind the "DynamoDB per AI request"
// table. It starts dynalite itself, on 127.0.0.1.
var dynamoBench = struct {
	Pkg, Pattern, Benchtime string
	What                    map[string]string
}{
	Pkg: "./cmd/aiapi", Pattern: "DynamoDBPerRequest", Benchtime: "200x",
	What: map[string]string{
		"BenchmarkDynamoDBPerRequest/warm-caches": "key cached (authorizer 5 s, key status 1 s): most requests",
		"BenchmarkDynamoDBPerRequest/cold-caches": "a key's first request on warm Lambdas: authorizer and key status read it",
		"BenchmarkDynamoDBPerRequest/tenant":      "key in a tenant with limits, caches warm: the tenant's windows count too",
	},
}

// prepareDynamoBench installs dynalite (npm ci, when node_modules lacks it:
// the measuring half has no network) and compiles the benchmark.
func prepareDynamoBench(ctx context.Context, repo, work string, tests map[string]string) error {
	if err := dynalite.Install(ctx, repo); err != nil {
		return err
	}
	tests[dynamoBench.Pkg] = filepath.Join(work, "dynamodb-"+filepath.Base(dynamoBench.Pkg)+".test")
	_, err := run(ctx, nil, repo, "go", "test", "-c", "-o", tests[dynamoBench.Pkg], dynamoBench.Pkg)
	return err
}

// runDynamoBench runs the compiled benchmark in its package directory, as
// `go test -run '^$' -bench DynamoDBPerRequest -benchtime 200x ./cmd/aiapi`
// would.
func runDynamoBench(ctx context.Context, repo string, tests map[string]string) ([]DynamoRow, string, error) {
	out, err := run(ctx, nil, repo+"/"+strings.TrimPrefix(dynamoBench.Pkg, "./"), tests[dynamoBench.Pkg],
		"-test.run", "^$", "-test.bench", dynamoBench.Pattern, "-test.benchtime", dynamoBench.Benchtime)
	if err != nil {
		return nil, string(out), err
	}
	rows := dynamoRows(string(out))
	if len(rows) == 0 {
		return nil, string(out), fmt.Errorf("bench: no DynamoDB benchmark results in:\n%s", out)
	}
	return rows, string(out), nil
}

// dynamoRows picks the benchmark's results out of `go test -bench` output.
func dynamoRows(out string) []DynamoRow {
	var rows []DynamoRow
	for _, l := range ParseBench(out) {
		if what, ok := dynamoBench.What[l.Name]; ok {
			rows = append(rows, DynamoRow{What: what, Bench: l.Name,
				Reads: l.Metrics["reads/op"], Writes: l.Metrics["writes/op"],
				ReadUnits: l.Metrics["RCU/op"], WriteUnits: l.Metrics["WCU/op"]})
		}
	}
	return rows
}

// DynamoTable is the "DynamoDB per AI request" table.
func DynamoTable(rows []DynamoRow) string {
	var b strings.Builder
	b.WriteString("| case | reads/request | writes/request | RCU/request | WCU/request | WCU per million requests | benchmark |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %.2f | %.2f | %.2f | %.2f | %s | `%s` |\n",
			r.What, r.Reads, r.Writes, r.ReadUnits, r.WriteUnits, groupThousands(int64(r.WriteUnits*1e6+0.5)), r.Bench)
	}
	return b.String()
}

// dynamoMethod is the table's line in the Method section.
const dynamoMethod = "- **DynamoDB per AI request:** `go test -run '^$' -bench DynamoDBPerRequest -benchtime 200x ./cmd/aiapi` (compiled first): " +
	"the authorizer handler (as cmd/authorizer builds it) and cmd/aiapi's Lambda handler over `AIGATE_STORE=dynamodb://…`, against dynalite on 127.0.0.1, " +
	"one chat completion to the `echo` model per iteration (authorizer decision, key status, reservation, settlement). " +
	"A proxy in front of dynalite counts every DynamoDB call and adds `ReturnConsumedCapacity: TOTAL`; capacity units are dynalite's (DynamoDB's rules; a failed conditional write, which reports none, is counted as 1 WCU). " +
	"The AI API's background expiry of abandoned reservations is not running: it is periodic, not per request.\n"

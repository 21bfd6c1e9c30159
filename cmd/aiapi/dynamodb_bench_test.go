package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aigate/aigate/apigw"
	"github.com/aigate/aigate/apikey"
	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/cmd/internal/env"
	"github.com/aigate/aigate/keys"
	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store"
	"github.com/aigate/aigate/store/dynamodb"
	"github.com/aigate/aigate/store/dynamodb/dynalite"
)

// BenchmarkDynamoDBPerRequest counts the DynamoDB calls one chat completion
// costs on AWS, through the real Lambda handlers over dynalite: the
// authorizer (apigw.NewHandler, as cmd/authorizer builds it)
// answers a TOKEN event, and this command's handler (newHandler, selected by
// AIGATE_STORE alone) serves a REST proxy event carrying the authorizer's
// context: key status, reservation, the echo model, settlement. Every call
// goes through a counting proxy on 127.0.0.1 in front of dynalite, which
// asks for ReturnConsumedCapacity=TOTAL and adds up what comes back.
//
//   - cold-caches: a new key each request, so the authorizer and the key
//     status check both read it (a key's first request on an instance).
//   - warm-caches: one key, both caches warm: what most requests cost.
//   - tenant: warm caches, a key in a tenant with limits (the tenant's
//     windows count too; the tenant is read once, then cached).
//
// Metrics per request: reads and writes (calls), RCU and WCU as DynamoDB
// reports them, and WCU per million requests.
func BenchmarkDynamoDBPerRequest(b *testing.B) {
	ctx := b.Context()
	dyn, err := dynalite.Start(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer dyn.Close()
	counter := &dynamoCounter{upstream: dyn.Endpoint}
	front := httptest.NewServer(counter)
	defer front.Close()

	secret := make([]byte, 32)
	rand.Read(secret)
	storeURL := "dynamodb://bench_?endpoint=" + front.URL
	b.Setenv("AIGATE_DATA", filepath.Join(b.TempDir(), "unused"))
	b.Setenv("AIGATE_HASH_KEY", hex.EncodeToString(secret))
	b.Setenv("AIGATE_STORE", storeURL)
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION",
		"AIGATE_AIAPI_CONFIG", "AIGATE_AIAPI_CONFIG_FILE", "AIGATE_PRICING", "OPENAI_BASE_URL", "OPENAI_API_KEY", EnvResponseStreaming} {
		b.Setenv(v, "")
	}

	admin, err := dynamodb.OpenURL(ctx, storeURL)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := admin.CreateTables(ctx); err != nil {
		b.Fatal(err)
	}
	hasher, err := apikey.NewHasher(secret)
	if err != nil {
		b.Fatal(err)
	}
	km := &keys.Manager{Store: admin, Hasher: hasher}
	limits := record.Limits{RPM: 1 << 30, TPM: 1 << 40, TokensPerDay: 1 << 50, TokensPerMonth: 1 << 50}
	if err := admin.PutTenant(ctx, &store.Tenant{Name: "acme", Limits: limits, Version: 1}, store.TenantEvent{Tenant: "acme", Action: "created", Actor: "bench", At: time.Now()}); err != nil {
		b.Fatal(err)
	}
	newKey := func(tenant string) string {
		k, err := km.Create(ctx, keys.Spec{Name: "bench", Tenant: tenant, Models: []string{"*"}, Limits: limits})
		if err != nil {
			b.Fatal(err)
		}
		return k.Secret
	}

	logger := slog.New(slog.DiscardHandler)
	authStore, err := env.Read().OpenStore(ctx)
	if err != nil {
		b.Fatal(err)
	}
	// As cmd/authorizer builds it, with its default 5 s key cache.
	authorizer, err := apigw.NewHandler(authz.Config{
		Keys: authStore, Hasher: hasher, CacheTTL: 5 * time.Second, Actor: "authorizer", Logger: logger,
	}, false)
	if err != nil {
		b.Fatal(err)
	}
	ai, _, err := newHandler(ctx, logger)
	if err != nil {
		b.Fatal(err)
	}

	// request is one chat completion: the authorizer's decision, then the
	// AI API's answer, which must be a 200.
	request := func(secret string) {
		out, err := authorizer.Invoke(ctx, []byte(`{"type":"TOKEN","authorizationToken":"Bearer `+secret+
			`","methodArn":"arn:aws:execute-api:us-east-1:123456789012:api123/prod/POST/v1/chat/completions"}`))
		if err != nil {
			b.Fatal(err)
		}
		var decision struct {
			PrincipalID string         `json:"principalId"`
			Context     map[string]any `json:"context"`
		}
		if err := json.Unmarshal(out, &decision); err != nil || decision.Context == nil {
			b.Fatalf("authorizer answered %s (%v)", out, err)
		}
		decision.Context["principalId"] = decision.PrincipalID
		ev, _ := json.Marshal(events.APIGatewayProxyRequest{
			HTTPMethod: "POST", Path: "/v1/chat/completions", Resource: "/v1/{proxy+}",
			Headers: map[string]string{"Content-Type": "application/json"},
			Body:    `{"model":"echo","max_tokens":100,"messages":[{"role":"user","content":"count my round trips"}]}`,
			RequestContext: events.APIGatewayProxyRequestContext{
				Stage: "prod", APIID: "api123", Authorizer: decision.Context,
			},
		})
		res, err := ai.Invoke(ctx, ev)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(res.(io.Reader))
		if !bytes.Contains(body, []byte(`"statusCode":200`)) {
			b.Fatalf("AI API answered %.500s", body)
		}
	}

	run := func(b *testing.B, next func() string) {
		request(next()) // warms what the case keeps warm
		counter.reset()
		n := 0
		for b.Loop() {
			s := next()
			counter.count(true)
			request(s)
			counter.count(false)
			n++
		}
		counter.report(b, n)
	}
	b.Run("cold-caches", func(b *testing.B) { run(b, func() string { return newKey("") }) })
	warm := newKey("")
	b.Run("warm-caches", func(b *testing.B) { run(b, func() string { return warm }) })
	tenant := newKey("acme")
	b.Run("tenant", func(b *testing.B) { run(b, func() string { return tenant }) })
}

// dynamoCounter is a proxy to dynalite that counts DynamoDB calls and the
// capacity units they consume, while counting is on.
type dynamoCounter struct {
	upstream string

	mu       sync.Mutex
	on       bool
	reads    int
	writes   int
	rcu, wcu float64
	ops      map[string]int
}

func (c *dynamoCounter) count(on bool) { c.mu.Lock(); c.on = on; c.mu.Unlock() }

func (c *dynamoCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads, c.writes, c.rcu, c.wcu, c.ops = 0, 0, 0, 0, map[string]int{}
}

// The operations the proxy counts, and whether they write.
var dynamoOps = map[string]bool{
	"GetItem": false, "BatchGetItem": false, "Query": false, "Scan": false, "TransactGetItems": false,
	"PutItem": true, "UpdateItem": true, "DeleteItem": true, "BatchWriteItem": true, "TransactWriteItems": true,
}

func (c *dynamoCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
	c.mu.Lock()
	on := c.on
	c.mu.Unlock()
	write, counted := dynamoOps[op]
	if on && counted {
		// Ask for the capacity consumed (dynalite checks no signature).
		var in map[string]json.RawMessage
		if json.Unmarshal(body, &in) == nil {
			in["ReturnConsumedCapacity"] = json.RawMessage(`"TOTAL"`)
			body, _ = json.Marshal(in)
		}
	}
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, c.upstream+r.URL.RequestURI(), bytes.NewReader(body))
	for k, v := range r.Header {
		if k != "Content-Length" {
			req.Header[k] = v
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	for k, v := range res.Header {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(res.StatusCode)
	w.Write(out)
	if !on || !counted {
		return
	}
	var consumed struct {
		ConsumedCapacity json.RawMessage
	}
	json.Unmarshal(out, &consumed)
	units := capacityUnits(consumed.ConsumedCapacity)
	if units == 0 && write {
		// A failed conditional write reports nothing, yet DynamoDB charges
		// it: at least one unit.
		units = 1
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ops[op]++
	if write {
		c.writes++
		c.wcu += units
	} else {
		c.reads++
		c.rcu += units
	}
}

// capacityUnits reads ConsumedCapacity: one object, or a list of them
// (batch and transactional calls).
func capacityUnits(raw json.RawMessage) float64 {
	type cc struct{ CapacityUnits float64 }
	var one cc
	if json.Unmarshal(raw, &one) == nil {
		return one.CapacityUnits
	}
	var many []cc
	json.Unmarshal(raw, &many)
	total := 0.0
	for _, c := range many {
		total += c.CapacityUnits
	}
	return total
}

func (c *dynamoCounter) report(b *testing.B, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n == 0 {
		return
	}
	per := func(v float64) float64 { return v / float64(n) }
	b.ReportMetric(per(float64(c.reads)), "reads/op")
	b.ReportMetric(per(float64(c.writes)), "writes/op")
	b.ReportMetric(per(c.rcu), "RCU/op")
	b.ReportMetric(per(c.wcu), "WCU/op")
	b.ReportMetric(per(c.wcu)*1e6, "WCU/1M-requests")
	var ops []string
	for op, k := range c.ops {
		ops = append(ops, fmt.Sprintf("%s %.2f", op, per(float64(k))))
	}
	b.Logf("per request: %s", strings.Join(ops, ", "))
}

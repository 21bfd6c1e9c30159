package gateway

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

func TestCachedPolicyIsReevaluatedPerMethod(t *testing.T) {
	// The authorizer returns a policy for the incoming methodArn only. On
	// AWS the cached policy is evaluated against the next route's
	// methodArn within the TTL, and denies it.
	auth := &testAuthorizer{}
	srv, _ := serve(t, restConfig, Options{Functions: map[string]Invoker{"auth": auth}})

	first := do(t, "GET", srv.URL+"/v1/models", bearer("narrow-1"), "")
	if first.status != 200 {
		t.Fatalf("first route: status %d, body %s", first.status, first.body)
	}
	second := do(t, "POST", srv.URL+"/v1/chat/completions", bearer("narrow-1"), "")
	if second.status != 403 || second.body != `{"Message":"User is not authorized to access this resource"}` {
		t.Errorf("second route within the TTL: %d %s, want 403 implicit deny", second.status, second.body)
	}
	again := do(t, "GET", srv.URL+"/v1/models", bearer("narrow-1"), "")
	if again.status != 200 {
		t.Errorf("first route again: %d, want 200 from the cached policy", again.status)
	}
	if n := auth.calls.Load(); n != 1 {
		t.Errorf("authorizer invoked %d times, want 1", n)
	}

	// Without the cache, each route gets its own policy.
	a := do(t, "GET", srv.URL+"/nocache/v1/a", bearer("narrow-2"), "")
	b := do(t, "GET", srv.URL+"/nocache/v1/b", bearer("narrow-2"), "")
	if a.status != 200 || b.status != 200 {
		t.Errorf("TTL 0: statuses %d, %d, want 200, 200", a.status, b.status)
	}
}

func TestCacheExpiresByOptionsNow(t *testing.T) {
	auth := &testAuthorizer{}
	clock := &fakeClock{now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	srv, _ := serve(t, restConfig, Options{Functions: map[string]Invoker{"auth": auth}, Now: clock.Now})

	do(t, "GET", srv.URL+"/v1/models", bearer("allow-ttl"), "")
	clock.Advance(299 * time.Second)
	do(t, "GET", srv.URL+"/v1/models", bearer("allow-ttl"), "")
	if n := auth.calls.Load(); n != 1 {
		t.Fatalf("within the TTL: %d invocations, want 1", n)
	}
	clock.Advance(time.Second)
	do(t, "GET", srv.URL+"/v1/models", bearer("allow-ttl"), "")
	if n := auth.calls.Load(); n != 2 {
		t.Fatalf("at the TTL: %d invocations, want 2", n)
	}
}

func TestCacheKeyIsEveryIdentitySourceValue(t *testing.T) {
	const cfg = `
apis:
  - name: multi
    authorizers:
      keys:
        type: REQUEST
        function: auth
        identitySource: method.request.header.X-Key, method.request.querystring.tenant
    routes:
      - route: GET /v1/{proxy+}
        authorizer: keys
        integration: {type: MOCK}
`
	auth := &testAuthorizer{}
	srv, _ := serve(t, cfg, Options{Functions: map[string]Invoker{"auth": auth}})
	hdr := map[string]string{"X-Key": "k1", "Authorization": "Bearer allow-m"}
	for _, q := range []string{"tenant=a", "tenant=a", "tenant=b"} {
		if r := do(t, "GET", srv.URL+"/v1/x?"+q, hdr, ""); r.status != 200 {
			t.Fatalf("%s: %d %s", q, r.status, r.body)
		}
	}
	if n := auth.calls.Load(); n != 2 {
		t.Errorf("invocations = %d, want 2 (one per distinct key+tenant)", n)
	}
	// For REQUEST authorizers every source must be present.
	if r := do(t, "GET", srv.URL+"/v1/x", hdr, ""); r.status != 401 {
		t.Errorf("without the query source: %d, want 401", r.status)
	}
	if n := auth.calls.Load(); n != 2 {
		t.Errorf("a request missing a source invoked the authorizer")
	}
}

func TestConcurrentMissesShareOneInvocation(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int64
	inner := &testAuthorizer{}
	slowAuth := invokerFunc(func(ctx context.Context, payload []byte) ([]byte, error) {
		calls.Add(1)
		<-release
		return inner.Invoke(ctx, payload)
	})
	srv, g := serve(t, restConfig, Options{Functions: map[string]Invoker{"auth": slowAuth}})
	followers := make(chan struct{}, 8)
	for _, a := range g.apis {
		if a.name == "rest" {
			a.authorizers["keys"].cache.followed = func() { followers <- struct{}{} }
		}
	}

	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = do(t, "GET", srv.URL+fmt.Sprintf("/v1/r%d", i), bearer("allow-burst"), "").status
		}()
	}
	// The invocation ends only once the 7 other requests wait for it: a
	// late one would be a cache hit, which proves nothing about sharing.
	for range len(statuses) - 1 {
		<-followers
	}
	close(release)
	wg.Wait()
	for i, s := range statuses {
		if s != 200 {
			t.Errorf("request %d: status %d", i, s)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("8 concurrent misses made %d invocations, want 1", n)
	}
}

func TestResultCacheIsBounded(t *testing.T) {
	c := newResultCache(3)
	now := time.Unix(1000, 0)
	for i := range 10 {
		f, leader := c.join(fmt.Sprint(i))
		if !leader {
			t.Fatal("not leader of a new key")
		}
		f.out = &authOutput{principalID: fmt.Sprint(i)}
		c.land(fmt.Sprint(i), f, now.Add(time.Minute))
	}
	if n := c.len(); n > 3 {
		t.Fatalf("cache holds %d entries, max 3", n)
	}
	if c.get("9", now) == nil {
		t.Error("the newest entry was evicted")
	}
	// Failed invocations are not stored.
	f, _ := c.join("bad")
	f.err = context.DeadlineExceeded
	c.land("bad", f, now.Add(time.Minute))
	if c.get("bad", now) != nil {
		t.Error("a failure was cached")
	}
}

// TestUncachedAuthorizerDecidesEveryRequestWithItsLatestAnswer: without a
// result cache the function is invoked for every request, even when it
// answers the same bytes each time (whose parsed form the gateway keeps),
// and a changed answer decides the very next request.
func TestUncachedAuthorizerDecidesEveryRequestWithItsLatestAnswer(t *testing.T) {
	const allowAll = `{"principalId":"%[2]s","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"%[1]s","Resource":"*"}]},"context":{"tenant":"%[2]s"}}`
	var answer atomic.Pointer[string]
	var calls atomic.Int64
	set := func(effect, tenant string) { s := fmt.Sprintf(allowAll, effect, tenant); answer.Store(&s) }
	auth := invokerFunc(func(ctx context.Context, payload []byte) ([]byte, error) {
		calls.Add(1)
		return []byte(*answer.Load()), nil
	})
	srv, _ := serve(t, restConfig, Options{Functions: map[string]Invoker{"auth": auth}})
	url := srv.URL + "/nocache/v1/x"

	set("Allow", "acme")
	for i := range 3 {
		if r := do(t, "GET", url, bearer("k"), ""); r.status != 200 || !strings.Contains(r.body, `"principal":"acme"`) {
			t.Fatalf("request %d with the same answer: %d %s, want 200 for principal acme", i, r.status, r.body)
		}
	}
	if n := calls.Load(); n != 3 {
		t.Fatalf("%d invocations for 3 requests, want 3", n)
	}
	set("Deny", "acme")
	if r := do(t, "GET", url, bearer("k"), ""); r.status != 403 {
		t.Fatalf("after the answer became a Deny: %d %s, want 403", r.status, r.body)
	}
	set("Allow", "globex")
	if r := do(t, "GET", url, bearer("k"), ""); r.status != 200 || !strings.Contains(r.body, `"principal":"globex"`) {
		t.Fatalf("after the context changed: %d %s, want 200 for principal globex", r.status, r.body)
	}
}

func TestParsedOutputsAreBounded(t *testing.T) {
	var p parsedOutputs
	out := &authOutput{principalID: "p"}
	for i := range parsedOutputsMax + 10 {
		p.put(fmt.Appendf(nil, `{"n":%d}`, i), out)
	}
	if n := len(p.out); n != parsedOutputsMax {
		t.Errorf("%d outputs kept, want %d", n, parsedOutputsMax)
	}
	big := make([]byte, parsedOutputMaxBytes+1)
	p.put(big, out)
	if p.get(big) != nil {
		t.Error("an output over parsedOutputMaxBytes was kept")
	}
	if got := p.get(fmt.Appendf(nil, `{"n":%d}`, parsedOutputsMax+9)); got != out {
		t.Error("the latest output was not kept")
	}
}

// eventInvoker answers InvokeEvent, and fails the test if the gateway
// encodes the event for Invoke instead.
type eventInvoker struct {
	t      *testing.T
	answer func(event any) ([]byte, error)
}

func (e eventInvoker) Invoke(context.Context, []byte) ([]byte, error) {
	e.t.Error("an in-process EventInvoker got the encoded event")
	return nil, errors.New("unexpected")
}

func (e eventInvoker) InvokeEvent(_ context.Context, event any) ([]byte, error) {
	return e.answer(event)
}

// TestInProcessEventInvokerGetsTheEventValue: an in-process EventInvoker
// is given the event the gateway would encode, under the same timeout and
// panic handling as Invoke.
func TestInProcessEventInvokerGetsTheEventValue(t *testing.T) {
	const allow = `{"principalId":"p","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]}}`
	var got any
	srv, _ := serve(t, restConfig, Options{Functions: map[string]Invoker{"auth": eventInvoker{t: t, answer: func(event any) ([]byte, error) {
		got = event
		if ev, ok := event.(events.APIGatewayCustomAuthorizerRequestTypeRequest); ok && ev.Headers["Authorization"] == "Bearer boom" {
			panic("boom")
		}
		return []byte(allow), nil
	}}}})
	if r := do(t, "GET", srv.URL+"/nocache/v1/x", bearer("k"), ""); r.status != 200 {
		t.Fatalf("status %d %s, want 200", r.status, r.body)
	}
	ev, ok := got.(events.APIGatewayCustomAuthorizerRequestTypeRequest)
	if !ok || ev.Type != "REQUEST" || !strings.HasSuffix(ev.MethodArn, "/test/GET/v1/x") || ev.Headers["Authorization"] != "Bearer k" {
		t.Fatalf("event %#v, want the REQUEST event for GET /v1/x", got)
	}
	if r := do(t, "GET", srv.URL+"/nocache/v1/x", bearer("boom"), ""); r.status != 500 {
		t.Fatalf("a panicking InvokeEvent: status %d %s, want 500", r.status, r.body)
	}
}

// inlineInvoker is an eventInvoker that asks to run on the request's
// goroutine.
type inlineInvoker struct{ eventInvoker }

func (inlineInvoker) Inline() bool { return true }

// onRequestGoroutine reports whether the caller runs under the gateway's
// ServeHTTP, not on a goroutine of its own.
func onRequestGoroutine() bool {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		if strings.HasSuffix(f.Function, "(*Gateway).ServeHTTP") {
			return true
		}
		if !more {
			return false
		}
	}
}

// TestInlineInvokerRunsOnTheRequestGoroutine: an InlineInvoker is called
// without a goroutine of its own, a plain one with; a panic is a 500 either
// way.
func TestInlineInvokerRunsOnTheRequestGoroutine(t *testing.T) {
	const allow = `{"principalId":"p","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]}}`
	for _, inline := range []bool{true, false} {
		var onRequest bool
		ev := eventInvoker{t: t, answer: func(event any) ([]byte, error) {
			onRequest = onRequestGoroutine()
			if ev, ok := event.(events.APIGatewayCustomAuthorizerRequestTypeRequest); ok && ev.Headers["Authorization"] == "Bearer boom" {
				panic("boom")
			}
			return []byte(allow), nil
		}}
		var fn Invoker = ev
		if inline {
			fn = inlineInvoker{ev}
		}
		srv, _ := serve(t, restConfig, Options{Functions: map[string]Invoker{"auth": fn}})
		if r := do(t, "GET", srv.URL+"/nocache/v1/x", bearer("k"), ""); r.status != 200 {
			t.Fatalf("inline %v: status %d %s, want 200", inline, r.status, r.body)
		}
		if onRequest != inline {
			t.Errorf("inline %v: ran on the request's goroutine: %v", inline, onRequest)
		}
		if r := do(t, "GET", srv.URL+"/nocache/v1/x", bearer("boom"), ""); r.status != 500 {
			t.Fatalf("inline %v: a panicking function: status %d %s, want 500", inline, r.status, r.body)
		}
	}
}

// TestInlineCallThatOutlivesItsContextFails: an inline call that returns
// after its context ended fails with the context's cause, as the goroutine
// path does, and gives its concurrency slot back.
func TestInlineCallThatOutlivesItsContextFails(t *testing.T) {
	f := &function{inv: inlineInvoker{}, sem: make(chan struct{}, 1)}
	cause := errors.New("authorizer timed out")
	ctx, cancel := context.WithCancelCause(context.Background())
	out, err := f.run(ctx, func() ([]byte, error) {
		cancel(cause)
		return []byte(`{}`), nil
	})
	if !errors.Is(err, cause) || out != nil {
		t.Fatalf("run = %q, %v; want the context's cause", out, err)
	}
	if len(f.sem) != 0 {
		t.Fatal("the concurrency slot was not given back")
	}
	out, err = f.run(context.Background(), func() ([]byte, error) { return []byte(`{"ok":1}`), nil })
	if err != nil || string(out) != `{"ok":1}` {
		t.Fatalf("run = %q, %v", out, err)
	}
}

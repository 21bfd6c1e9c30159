package lambdaemu

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestClientBoundsInvocationsInFlight(t *testing.T) {
	var inFlight, maxInFlight atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/2015-03-31/functions/auth/invocations" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}))
	defer srv.Close()

	for _, limit := range []int{0, 3} {
		maxInFlight.Store(0)
		c := &Client{URL: srv.URL, MaxConcurrency: limit}
		f := c.Function("auth")
		var wg sync.WaitGroup
		for range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := f.Invoke(context.Background(), []byte(`{"a":1}`))
				if err != nil || string(out) != `{"a":1}` {
					t.Errorf("Invoke = %q, %v", out, err)
				}
			}()
		}
		wg.Wait()
		want := int32(max(limit, 1))
		if got := maxInFlight.Load(); got > want {
			t.Errorf("MaxConcurrency %d: %d invocations in flight at once", limit, got)
		}
	}
}

func TestClientKeepsTheSlotOfAnAbandonedInvocation(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			<-release
		}
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	defer close(release)

	c := &Client{URL: srv.URL}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := c.Invoke(ctx, "function", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
	// The endpoint is still busy with the first invocation: the second
	// must wait for its slot rather than be sent.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if _, err := c.Invoke(ctx2, "function", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second invocation: err = %v, want it to wait for the slot", err)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("endpoint received %d invocations while one was still running", n)
	}
}

func TestFunctionErrorDetection(t *testing.T) {
	tests := []struct {
		name    string
		header  string
		body    string
		wantErr bool
		message string
	}{
		{name: "emulator error body (HTTP 200, no header)", body: `{"errorMessage":"Unauthorized","errorType":"errorString"}`, wantErr: true, message: "Unauthorized"},
		{name: "error body with stack trace", body: `{"errorMessage":"boom","errorType":"Error","stackTrace":["a"]}`, wantErr: true, message: "boom"},
		{name: "Lambda's X-Amz-Function-Error header", header: "Unhandled", body: `{"errorMessage":"boom","errorType":"Error","extra":1}`, wantErr: true, message: "boom"},
		{name: "emulator timeout text", body: `Task timed out after 1.00 seconds`, wantErr: true},
		{name: "authorizer result", body: `{"principalId":"u","policyDocument":{}}`},
		{name: "result that mentions errorMessage among other keys", body: `{"statusCode":500,"errorMessage":"in body"}`},
		{name: "plain string result", body: `"errorMessage"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.header != "" {
				h.Set("X-Amz-Function-Error", tt.header)
			}
			fe := functionError(h, []byte(tt.body))
			if (fe != nil) != tt.wantErr {
				t.Fatalf("functionError = %v, want error %v", fe, tt.wantErr)
			}
			if fe != nil && tt.message != "" && fe.Message != tt.message {
				t.Errorf("Message = %q, want %q", fe.Message, tt.message)
			}
		})
	}
}

func TestClientReportsEndpointFailures(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()
	_, err := (&Client{URL: srv.URL}).Invoke(context.Background(), "function", []byte(`{}`))
	var fe *FunctionError
	if err == nil || errors.As(err, &fe) {
		t.Fatalf("err = %v, want a non-function error", err)
	}
}

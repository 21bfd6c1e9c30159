package lambdaemu

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// MaxResponseBytes is the largest invocation result read: Lambda's limit for
// a synchronous invocation's response (6 MB).
const MaxResponseBytes = 6 << 20

// maxInvocation bounds an invocation nobody waits for any more (Lambda's
// maximum function timeout). See Client.Invoke.
const maxInvocation = 15 * time.Minute

// FunctionError is the function's own error, as the invoke API reports it.
// Lambda sets X-Amz-Function-Error; the emulator does not and answers HTTP
// 200, so the body decides: an object whose only keys are the runtime's
// error keys (errorMessage, errorType, stackTrace, …) is an error, never a
// result.
type FunctionError struct {
	// Message is errorMessage: for a Go handler, the returned error's
	// Error(). API Gateway answers 401 when it is exactly "Unauthorized".
	Message string `json:"errorMessage"`
	// Type is errorType, e.g. "errorString".
	Type string `json:"errorType"`
}

func (e *FunctionError) Error() string {
	return "lambdaemu: function error (" + e.Type + "): " + e.Message
}

// errorKeys are the keys the Lambda runtimes put in an error payload.
var errorKeys = map[string]bool{
	"errorMessage": true, "errorType": true, "stackTrace": true,
	"requestId": true, "cause": true, "shouldExit": true,
}

// Client calls the invoke API of one endpoint: the emulator, or anything that
// speaks the Lambda invoke API. The zero value is not usable: set URL.
type Client struct {
	// URL is the endpoint, e.g. "http://127.0.0.1:9001", without the
	// /2015-03-31/… path.
	URL string
	// MaxConcurrency bounds the invocations in flight at once. 0 means 1,
	// because two simultaneous invocations crash the emulator.
	MaxConcurrency int
	// Transport carries the requests. Nil means http.DefaultTransport.
	Transport http.RoundTripper

	once sync.Once
	sem  chan struct{}
	hc   *http.Client
}

func (c *Client) init() {
	c.once.Do(func() {
		n := c.MaxConcurrency
		if n <= 0 {
			n = 1
		}
		c.sem = make(chan struct{}, n)
		c.hc = &http.Client{Transport: c.Transport}
	})
}

// Function returns an invoker of one function of the endpoint. Its Invoke
// has the signature of aws-lambda-go's lambda.Handler.
func (c *Client) Function(name string) *Function {
	return &Function{client: c, name: name}
}

// Function is one function behind a Client.
type Function struct {
	client *Client
	name   string
}

// Invoke invokes the function synchronously; see Client.Invoke.
func (f *Function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return f.client.Invoke(ctx, f.name, payload)
}

// Invoke invokes function with payload and returns its result. A function
// error is a *FunctionError.
//
// When ctx ends first, Invoke returns at once, but the invocation keeps its
// concurrency slot until the endpoint answers (at most 15 minutes): the
// emulator is still running it, and sending the next invocation before it
// answers would crash it.
func (c *Client) Invoke(ctx context.Context, function string, payload []byte) ([]byte, error) {
	c.init()
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("lambdaemu: invoke %s: waiting for a free slot: %w", function, context.Cause(ctx))
	}
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	url := strings.TrimSuffix(c.URL, "/") + "/2015-03-31/functions/" + function + "/invocations"
	go func() {
		defer func() { <-c.sem }()
		ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), maxInvocation)
		defer cancel()
		b, err := invoke(ictx, c.hc, url, payload)
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		return r.b, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("lambdaemu: invoke %s: %w", function, context.Cause(ctx))
	}
}

// invoke makes one invoke API request. It never retries: a synchronous
// Lambda invocation is not retried by API Gateway either.
func invoke(ctx context.Context, hc *http.Client, url string, payload []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("lambdaemu: invoke: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("lambdaemu: invoke: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("lambdaemu: invoke: read response: %w", err)
	}
	if len(body) > MaxResponseBytes {
		return nil, fmt.Errorf("lambdaemu: invoke: response larger than %d bytes", MaxResponseBytes)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("lambdaemu: invoke: endpoint answered %s", resp.Status)
	}
	if fe := functionError(resp.Header, body); fe != nil {
		return nil, fe
	}
	return body, nil
}

// timeoutPrefix starts the plain-text body (HTTP 200) with which the emulator
// reports that the function ran past AWS_LAMBDA_FUNCTION_TIMEOUT.
const timeoutPrefix = "Task timed out after "

// timeoutType is the errorType of a function that ran past its timeout.
const timeoutType = "Sandbox.Timedout"

// TimedOut reports whether the function ran past its timeout
// (AWS_LAMBDA_FUNCTION_TIMEOUT for the emulator).
func (e *FunctionError) TimedOut() bool { return e.Type == timeoutType }

func functionError(h http.Header, body []byte) *FunctionError {
	if bytes.HasPrefix(body, []byte(timeoutPrefix)) {
		return &FunctionError{Message: string(body), Type: timeoutType}
	}
	explicit := h.Get("X-Amz-Function-Error") != ""
	if !explicit && !bytes.Contains(body, []byte(`"errorMessage"`)) {
		return nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		if explicit {
			return &FunctionError{Message: "unreadable error payload", Type: h.Get("X-Amz-Function-Error")}
		}
		return nil
	}
	if !explicit {
		for k := range fields {
			if !errorKeys[k] {
				return nil
			}
		}
	}
	var fe FunctionError
	if err := json.Unmarshal(body, &fe); err != nil && explicit {
		fe.Message = "unreadable error payload"
	}
	return &fe
}

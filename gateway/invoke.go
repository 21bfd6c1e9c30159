package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aigate/aigate/gateway/lambdaemu"
)

// Invoker is a Lambda function called in process. It has the method of
// aws-lambda-go's lambda.Handler, so lambda.NewHandler(fn) is an Invoker. A
// returned error is the function's error: API Gateway reads its message
// (Error()), and only "Unauthorized" exactly means 401.
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// EventInvoker is an in-process authorizer function that can also take its
// event as the Go value the gateway would encode for Invoke (an
// aws-lambda-go events type: APIGatewayCustomAuthorizerRequest,
// …RequestTypeRequest, APIGatewayV2CustomAuthorizerV1Request or …V2Request),
// sparing the encoding and the function's decoding of every event.
// InvokeEvent must answer exactly what Invoke answers for the encoded
// event; server's adapter of the built-in authorizer is one, checked
// against its JSON path by a test. The gateway uses it for in-process
// functions only (Options.Functions).
type EventInvoker interface {
	Invoker
	InvokeEvent(ctx context.Context, event any) ([]byte, error)
}

// InlineInvoker is an in-process function that promises to return
// promptly once its ctx ends and to copy nothing it returns into a buffer it
// reuses: the gateway then calls it on the request's own goroutine, not in
// one of its own, saving a goroutine and a hand-off on every call (the
// built-in authorizer, on every request of `aigate serve`). A panic is still
// a function error, and a call that returns after ctx ended still fails
// with ctx's cause, as the goroutine path would have.
type InlineInvoker interface {
	Invoker
	// Inline reports whether the function keeps the promise.
	Inline() bool
}

// function is a bound LambdaFunction.
type function struct {
	inv Invoker
	// sem bounds the concurrent invocations of an in-process function; nil
	// for the lambdaemu clients and pools, which bound their own.
	sem chan struct{}
}

// errFunctionPanicked reports an in-process function that panicked, as the
// Lambda runtime reports it: a function error.
var errFunctionPanicked = errors.New("gateway: function panicked")

// invoke calls the function, giving up when ctx ends.
//
// An in-process function runs in its own goroutine, so that the timeout
// holds even when it ignores ctx, and a panic becomes a function error (500),
// as on Lambda, rather than the end of the gateway. Its output is copied
// before its concurrency slot is released: aws-lambda-go v1.55.1's
// lambda.NewHandler returns a slice of a pooled buffer that it has already
// put back (lambda/handler.go, `defer response.Close()`), so a concurrent
// invocation may overwrite it — measured: 80 outputs in 160,000 corrupted at
// 8 concurrent invocations. Hence Options.FunctionConcurrency defaults to 1.
func (f *function) invoke(ctx context.Context, payload []byte) ([]byte, error) {
	if f.sem == nil {
		return f.inv.Invoke(ctx, payload)
	}
	return f.run(ctx, func() ([]byte, error) { return f.inv.Invoke(ctx, payload) })
}

// invokeEvent calls the function with event, encoded as JSON unless the
// function is in process and an EventInvoker.
func (f *function) invokeEvent(ctx context.Context, event any) ([]byte, error) {
	if ei, ok := f.inv.(EventInvoker); ok && f.sem != nil {
		return f.run(ctx, func() ([]byte, error) { return ei.InvokeEvent(ctx, event) })
	}
	payload, err := json.Marshal(event)
	if err != nil {
		return nil, fmt.Errorf("gateway: encode authorizer event: %w", err)
	}
	return f.invoke(ctx, payload)
}

// run makes one call of an in-process function (see invoke).
func (f *function) run(ctx context.Context, call func() ([]byte, error)) ([]byte, error) {
	select {
	case f.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	if il, ok := f.inv.(InlineInvoker); ok && il.Inline() {
		return f.runInline(ctx, call)
	}
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() { <-f.sem }()
		defer func() {
			if p := recover(); p != nil {
				done <- result{err: fmt.Errorf("%w: %v", errFunctionPanicked, p)}
			}
		}()
		out, err := call()
		done <- result{bytes.Clone(out), err}
	}()
	select {
	case r := <-done:
		return r.out, r.err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// runInline is run on the caller's goroutine, for an InlineInvoker; the
// caller holds a concurrency slot, which it gives back.
func (f *function) runInline(ctx context.Context, call func() ([]byte, error)) (out []byte, err error) {
	defer func() { <-f.sem }()
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("%w: %v", errFunctionPanicked, p)
		}
	}()
	out, err = call()
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	return out, err
}

// functionErrorMessage is the errorMessage Lambda would report for err: the
// emulator's errorMessage, or an in-process function's Error().
func functionErrorMessage(err error) string {
	var fe *lambdaemu.FunctionError
	if errors.As(err, &fe) {
		return fe.Message
	}
	return err.Error()
}

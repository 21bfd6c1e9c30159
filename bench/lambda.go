package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// LambdaResult is one function under the emulator.
type LambdaResult struct {
	Name      string
	SizeBytes int64           // linux/arm64 bootstrap, stripped
	Cold      []time.Duration // emulator process start → first answer
	FirstCall []time.Duration // first invoke → its answer (the function's init inside)
	Warm      Sample          // sequential invokes after the first
}

// LambdaRun is how one function is started and called.
type LambdaRun struct {
	Name      string
	RIE       string   // the emulator binary
	Bootstrap string   // host-architecture build
	Env       []string // added to the bench's environment
	Event     []byte
	Check     func(answer []byte) error
}

// lambdaInvokePath is the emulator's invoke endpoint.
const lambdaInvokePath = "/2015-03-31/functions/function/invocations"

// start starts the emulator with the function; it starts the function
// itself lazily, on the first invoke.
func (r LambdaRun) start(ps *Procs) (*Proc, string, time.Time, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", time.Time{}, err
	}
	apiAddr, err := freeAddr()
	if err != nil {
		return nil, "", time.Time{}, err
	}
	t0 := time.Now()
	p, err := ps.Start(r.Name+" rie", r.Env, "", r.RIE,
		"--runtime-interface-emulator-address", addr, "--runtime-api-address", apiAddr, r.Bootstrap)
	return p, addr, t0, err
}

// invoke sends one event; the emulator takes one at a time, and so do we.
func (r LambdaRun) invoke(ctx context.Context, client *http.Client, addr string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+lambdaInvokePath, bytes.NewReader(r.Event))
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("status %d: %.300s", resp.StatusCode, body)
	}
	// A handler error is a 200 too: only the body tells.
	if err := r.Check(body); err != nil {
		return body, fmt.Errorf("%w: %.300s", err, body)
	}
	return body, nil
}

// Cold starts the emulator runs times, each time timing process start →
// first answer, and stops it.
func (r LambdaRun) Cold(ctx context.Context, ps *Procs, runs int, deadline time.Duration) (cold, first []time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	for i := 0; i < runs && ctx.Err() == nil; i++ {
		p, addr, t0, err := r.start(ps)
		if err != nil {
			return cold, first, err
		}
		err = p.WaitListening(ctx, addr, 10*time.Second)
		t1 := time.Now()
		if err == nil {
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
			_, err = r.invoke(ctx, client, addr)
			client.CloseIdleConnections()
		}
		t2 := time.Now()
		ps.Stop(p)
		if err != nil {
			return cold, first, fmt.Errorf("bench: %s cold start %d: %w (%s)", r.Name, i+1, err, p.Output())
		}
		cold, first = append(cold, t2.Sub(t0)), append(first, t2.Sub(t1))
	}
	return cold, first, nil
}

// Warm starts the emulator once, invokes once to start the function, then
// times n sequential invokes over one keep-alive connection. It returns the
// first answer too.
func (r LambdaRun) Warm(ctx context.Context, ps *Procs, n int, deadline time.Duration) (Sample, []byte, error) {
	p, addr, _, err := r.start(ps)
	if err != nil {
		return Sample{}, nil, err
	}
	defer ps.Stop(p)
	if err := p.WaitListening(ctx, addr, 10*time.Second); err != nil {
		return Sample{}, nil, err
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	answer, err := r.invoke(ctx, client, addr)
	if err != nil {
		return Sample{}, nil, fmt.Errorf("bench: %s: %w (%s)", r.Name, err, p.Output())
	}
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	s := Sample{Requested: n}
	start := time.Now()
	for i := 0; i < n && ctx.Err() == nil; i++ {
		t0 := time.Now()
		if _, err := r.invoke(ctx, client, addr); err != nil {
			if ctx.Err() != nil {
				break
			}
			return s, answer, fmt.Errorf("bench: %s warm invoke %d: %w (%s)", r.Name, i+1, err, p.Output())
		}
		s.Latencies = append(s.Latencies, time.Since(t0))
	}
	s.Elapsed = time.Since(start)
	s.TimedOut = len(s.Latencies) < n
	slices.Sort(s.Latencies)
	return s, answer, nil
}

// tokenEvent is API Gateway's TOKEN authorizer event for a key.
func tokenEvent(secret string) []byte {
	b, _ := json.Marshal(map[string]string{
		"type":               "TOKEN",
		"authorizationToken": "Bearer " + secret,
		"methodArn":          "arn:aws:execute-api:us-east-1:123456789012:api123/prod/POST/v1/chat/completions",
	})
	return b
}

// authorizerAnswer is what the authorizer returns that a proxy
// integration receives.
type authorizerAnswer struct {
	PrincipalID    string         `json:"principalId"`
	PolicyDocument map[string]any `json:"policyDocument"`
	Context        map[string]any `json:"context"`
}

// checkAllow accepts an authorizer answer that allows.
func checkAllow(answer []byte) error {
	if !bytes.Contains(answer, []byte(`"Effect":"Allow"`)) {
		return fmt.Errorf("not an Allow")
	}
	return nil
}

// modelsEvent is a REST API proxy event for GET /v1/models carrying the
// authorizer's context as API Gateway passes it on.
func modelsEvent(a authorizerAnswer) []byte {
	auth := map[string]any{"principalId": a.PrincipalID}
	for k, v := range a.Context {
		auth[k] = v
	}
	b, _ := json.Marshal(map[string]any{
		"resource":   "/v1/{proxy+}",
		"path":       "/v1/models",
		"httpMethod": "GET",
		"headers":    map[string]string{"Accept": "application/json"},
		"pathParameters": map[string]string{
			"proxy": "models",
		},
		"requestContext": map[string]any{
			"resourcePath": "/v1/{proxy+}",
			"httpMethod":   "GET",
			"path":         "/prod/v1/models",
			"stage":        "prod",
			"apiId":        "api123",
			"requestId":    "bench-request",
			"authorizer":   auth,
		},
	})
	return b
}

// checkModels accepts a proxy answer of 200 listing models.
func checkModels(answer []byte) error {
	s := string(answer)
	if !strings.Contains(s, `"statusCode":200`) || !strings.Contains(s, `list`) {
		return fmt.Errorf("not a 200 model list")
	}
	return nil
}

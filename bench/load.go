package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Target is one endpoint under load: where to POST and with which headers.
type Target struct {
	Name    string
	URL     string
	Headers map[string]string
	Body    []byte
}

// Load is the shape of one measured level.
type Load struct {
	Concurrency int
	Requests    int           // measured requests, shared by the workers
	Warmup      int           // unmeasured requests first (connections, caches, JIT)
	Deadline    time.Duration // bound of the measured phase (and, again, of the warm-up)
}

// Run sends l.Warmup then l.Requests POSTs to t from l.Concurrency
// keep-alive clients. Every loop stops at its count or its deadline,
// whichever comes first.
func (l Load) Run(ctx context.Context, t Target) (Sample, error) {
	tr := &http.Transport{
		MaxIdleConns:        l.Concurrency,
		MaxIdleConnsPerHost: l.Concurrency,
		MaxConnsPerHost:     l.Concurrency,
		DisableCompression:  true,
		IdleConnTimeout:     time.Minute,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	send := func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(t.Body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		for k, v := range t.Headers {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d: %.200s", resp.StatusCode, body)
		}
		if !bytes.Contains(body, []byte(`"usage"`)) {
			return fmt.Errorf("answer without usage: %.200s", body)
		}
		return nil
	}
	// A first request must succeed: a misrouted gateway should stop the
	// run, not fill the table with errors.
	if err := send(ctx); err != nil {
		return Sample{}, fmt.Errorf("%s: first request: %w", t.Name, err)
	}
	if l.Warmup > 0 {
		if _, err := l.phase(ctx, l.Warmup, send); err != nil {
			return Sample{}, fmt.Errorf("%s: warm-up: %w", t.Name, err)
		}
	}
	s, err := l.phase(ctx, l.Requests, send)
	if err != nil {
		return Sample{}, fmt.Errorf("%s: %w", t.Name, err)
	}
	return s, nil
}

// phase runs count requests over l.Concurrency workers, bounded by
// l.Deadline.
func (l Load) phase(parent context.Context, count int, send func(context.Context) error) (Sample, error) {
	ctx, cancel := context.WithTimeout(parent, l.Deadline)
	defer cancel()
	var (
		next     atomic.Int64
		errs     atomic.Int64
		firstErr atomic.Value
		wg       sync.WaitGroup
	)
	per := make([][]time.Duration, l.Concurrency)
	start := time.Now()
	for w := range l.Concurrency {
		wg.Go(func() {
			lat := make([]time.Duration, 0, count/l.Concurrency+1)
			for next.Add(1) <= int64(count) && ctx.Err() == nil {
				t0 := time.Now()
				if err := send(ctx); err != nil {
					if ctx.Err() != nil {
						break // the deadline, not the target
					}
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			per[w] = lat
		})
	}
	wg.Wait()
	s := Sample{Elapsed: time.Since(start), Errors: int(errs.Load()), Requested: count}
	if err := parent.Err(); err != nil {
		return s, err // interrupted
	}
	s.TimedOut = ctx.Err() != nil
	s.Latencies = slices.Concat(per...)
	slices.Sort(s.Latencies)
	if s.Errors > count/100 {
		return s, fmt.Errorf("%d of %d requests failed, first: %v", s.Errors, count, firstErr.Load())
	}
	return s, nil
}

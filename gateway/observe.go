package gateway

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// observer holds the gateway's Prometheus metrics. A nil *observer (no
// Options.Metrics) records nothing; so do the nil route and authorizer
// observers it hands out.
type observer struct {
	statusLabels   [600]string              // strconv.Itoa(status), made once
	requests       *prometheus.CounterVec   // api, route, status
	duration       *prometheus.HistogramVec // api, route
	integration    *prometheus.HistogramVec // api, route
	decisions      *prometheus.CounterVec   // api, authorizer, outcome, cache
	invocations    *prometheus.CounterVec   // api, authorizer, result
	invokeDuration *prometheus.HistogramVec // api, authorizer
}

// latencyBuckets span 50 µs (a cached authorization) to 30 s (the longest
// integration timeout).
var latencyBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

func newObserver() *observer {
	o := &observer{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "aigate", Subsystem: "gateway", Name: "requests_total",
			Help: "Requests served, by API, route key (\"\" when none matched) and status.",
		}, []string{"api", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "aigate", Subsystem: "gateway", Name: "request_duration_seconds",
			Help: "Time from request to the end of the response, by API and route key.", Buckets: latencyBuckets,
		}, []string{"api", "route"}),
		integration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "aigate", Subsystem: "gateway", Name: "integration_duration_seconds",
			Help: "Time spent in AWS_PROXY and HTTP_PROXY integrations, by API and route key.", Buckets: latencyBuckets,
		}, []string{"api", "route"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "aigate", Subsystem: "gateway", Name: "authorizer_decisions_total",
			Help: "Authorizer stage outcomes (allow, unauthorized, explicit_deny, implicit_deny, not_authorized, failure, arn_too_long) by cache use (hit, miss, shared, off).",
		}, []string{"api", "authorizer", "outcome", "cache"}),
		invocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "aigate", Subsystem: "gateway", Name: "authorizer_invocations_total",
			Help: "Authorizer function invocations by result (ok, unauthorized, error, timeout).",
		}, []string{"api", "authorizer", "result"}),
		invokeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "aigate", Subsystem: "gateway", Name: "authorizer_invocation_duration_seconds",
			Help: "Authorizer function invocation time.", Buckets: latencyBuckets,
		}, []string{"api", "authorizer"}),
	}
	for i := range o.statusLabels {
		o.statusLabels[i] = strconv.Itoa(i)
	}
	return o
}

// register registers the metrics; on failure none stays registered.
func (o *observer) register(reg prometheus.Registerer) error {
	cs := []prometheus.Collector{o.requests, o.duration, o.integration, o.decisions, o.invocations, o.invokeDuration}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return fmt.Errorf("gateway: register metrics: %w", err)
		}
	}
	return nil
}

// routeObserver records one route's requests, with its labels bound once.
type routeObserver struct {
	o           *observer
	requests    *prometheus.CounterVec // curried: status
	duration    prometheus.Observer
	integration prometheus.Observer
}

func (o *observer) route(api, route string) *routeObserver {
	if o == nil {
		return nil
	}
	return &routeObserver{
		o:           o,
		requests:    o.requests.MustCurryWith(prometheus.Labels{"api": api, "route": route}),
		duration:    o.duration.WithLabelValues(api, route),
		integration: o.integration.WithLabelValues(api, route),
	}
}

func (ro *routeObserver) served(status int, elapsed, integration time.Duration) {
	if ro == nil {
		return
	}
	ro.requests.WithLabelValues(ro.o.statusLabel(status)).Inc()
	ro.duration.Observe(elapsed.Seconds())
	if integration > 0 {
		ro.integration.Observe(integration.Seconds())
	}
}

// unrouted records a request that matched no API or no route.
func (o *observer) unrouted(a *api, status int, elapsed time.Duration) {
	if o == nil {
		return
	}
	name := ""
	if a != nil {
		name = a.name
	}
	o.requests.WithLabelValues(name, "", o.statusLabel(status)).Inc()
	o.duration.WithLabelValues(name, "").Observe(elapsed.Seconds())
}

// authObserver records one authorizer's decisions and invocations.
type authObserver struct {
	decisions      *prometheus.CounterVec // curried: outcome, cache
	invocations    *prometheus.CounterVec // curried: result
	invokeDuration prometheus.Observer
}

func (o *observer) authorizer(api, name string) *authObserver {
	if o == nil {
		return nil
	}
	l := prometheus.Labels{"api": api, "authorizer": name}
	return &authObserver{
		decisions:      o.decisions.MustCurryWith(l),
		invocations:    o.invocations.MustCurryWith(l),
		invokeDuration: o.invokeDuration.WithLabelValues(api, name),
	}
}

func (ao *authObserver) decided(oc outcome, c cacheResult) {
	if ao == nil {
		return
	}
	ao.decisions.WithLabelValues(oc.String(), c.String()).Inc()
}

func (ao *authObserver) invoked(d time.Duration, err error) {
	if ao == nil {
		return
	}
	result := "ok"
	switch {
	case err == nil:
	case errors.Is(err, context.DeadlineExceeded):
		result = "timeout"
	case functionErrorMessage(err) == "Unauthorized":
		result = "unauthorized"
	default:
		result = "error"
	}
	ao.invocations.WithLabelValues(result).Inc()
	ao.invokeDuration.Observe(d.Seconds())
}

func (o *observer) statusLabel(status int) string {
	if status >= 0 && status < len(o.statusLabels) {
		return o.statusLabels[status]
	}
	return strconv.Itoa(status)
}

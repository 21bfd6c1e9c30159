package dynamodb

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store/storetest"
)

// lossyTransport forwards every request, but for the first lose requests
// of operation op that mention table, it throws the answer away and says
// 500 instead: the write happened, the client does not know, and the SDK
// retries it.
type lossyTransport struct {
	mu        sync.Mutex
	op, table string
	lose      int
	sent      int // requests of op on table
}

func (l *lossyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(body))
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !strings.HasSuffix(req.Header.Get("X-Amz-Target"), "."+l.op) || !bytes.Contains(body, []byte(`"`+l.table+`"`)) {
		return resp, nil
	}
	l.sent++
	if l.lose == 0 {
		return resp, nil
	}
	l.lose--
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return dynamoError(req, http.StatusInternalServerError, "InternalServerError", "answer lost"), nil
}

// dynamoError is DynamoDB's answer of an error of type typ.
func dynamoError(req *http.Request, status int, typ, msg string) *http.Response {
	return &http.Response{
		StatusCode: status,
		Header:     http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
		Body:       io.NopCloser(strings.NewReader(`{"__type":"com.amazonaws.dynamodb.v20120810#` + typ + `","message":"` + msg + `"}`)),
		Request:    req,
	}
}

// lossyStore is a store on the tables of base whose requests go through l.
func lossyStore(base *Store, l *lossyTransport) *Store {
	client := dynamodb.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		HTTPClient:  &http.Client{Transport: l},
	}, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(endpoint) })
	return &Store{client: client, t: base.t, logger: base.logger}
}

func TestLostAnswersAreResolvedWithoutDoubleCounting(t *testing.T) {
	l := record.Limits{TokensPerDay: 10_000}
	t.Run("reservation put", func(t *testing.T) {
		base := openClosing(t)
		tr := &lossyTransport{op: "PutItem", table: base.t.reservations, lose: 1}
		s := lossyStore(base, tr)
		if _, err := s.Reserve(t.Context(), crashReservation("r1", 300), l); err != nil {
			t.Fatalf("Reserve with its answer lost once: %v", err)
		}
		if tr.sent != 2 {
			t.Errorf("reservation put sent %d times, want 2 (the SDK's retry)", tr.sent)
		}
		if got := windowTotals(t, base, "p", crashBase)[1]; got != (counters{1, 300, 0}) {
			t.Errorf("day = %+v, want the one reservation", got)
		}
		if _, err := s.Settle(t.Context(), quota.Settlement{Reservation: quota.Reservation{ID: "r1"}, PromptTokens: 100, At: crashBase}); err != nil {
			t.Errorf("Settle: %v", err)
		}
	})
	t.Run("settlement commit", func(t *testing.T) {
		base := openClosing(t)
		if _, err := base.Reserve(t.Context(), crashReservation("r1", 300), l); err != nil {
			t.Fatal(err)
		}
		tr := &lossyTransport{op: "UpdateItem", table: base.t.reservations, lose: 1}
		s := lossyStore(base, tr)
		e, err := s.Settle(t.Context(), quota.Settlement{Reservation: quota.Reservation{ID: "r1"}, PromptTokens: 100, CompletionTokens: 20, At: crashBase})
		if err != nil {
			t.Fatalf("Settle with its commit's answer lost once: %v", err)
		}
		if tr.sent != 2 || e.PromptTokens != 100 {
			t.Errorf("commit sent %d times, entry %+v", tr.sent, e)
		}
		if rows := ledgerRows(t, base); len(rows) != 1 {
			t.Errorf("ledger = %+v, want one row", rows)
		}
		if got := windowTotals(t, base, "p", crashBase)[1]; got != (counters{1, 120, 0}) {
			t.Errorf("day = %+v, want 120 tokens", got)
		}
	})
	t.Run("giving back is not retried", func(t *testing.T) {
		base := openClosing(t)
		if _, err := base.Reserve(t.Context(), crashReservation("r1", 300), l); err != nil {
			t.Fatal(err)
		}
		tr := &lossyTransport{op: "UpdateItem", table: base.t.usage, lose: 3}
		s := lossyStore(base, tr)
		err := s.Release(t.Context(), "r1")
		if err == nil {
			t.Error("Release reported success although no answer came back")
		}
		if tr.sent != 3 {
			t.Errorf("%d subtractions sent, want one per window", tr.sent)
		}
		// Each was applied once: exactly the reservation is given back.
		for i, c := range windowTotals(t, base, "p", crashBase) {
			if c != (counters{1, 0, 0}) {
				t.Errorf("window %d = %+v, want 1 request, 0 tokens", i, c)
			}
		}
	})
	t.Run("key update", func(t *testing.T) {
		base := openClosing(t)
		k := storetest.NewKey("k1")
		if err := base.CreateKey(t.Context(), k, record.AuditEvent{Action: "created"}); err != nil {
			t.Fatal(err)
		}
		tr := &lossyTransport{op: "PutItem", table: base.t.keys, lose: 1}
		s := lossyStore(base, tr)
		next := *k
		next.Version = 2
		if err := s.UpdateKey(t.Context(), &next, record.AuditEvent{Action: "revoked"}); err != nil {
			t.Fatalf("UpdateKey with its answer lost once: %v", err)
		}
		if tr.lose != 0 || tr.sent != 2 {
			t.Errorf("key put sent %d times, %d losses left: want the answer lost once and the put retried", tr.sent, tr.lose)
		}
		if evs, err := base.KeyHistory(t.Context(), "k1"); err != nil || len(evs) != 2 {
			t.Errorf("history = %+v, %v", evs, err)
		}
		// A genuinely stale writer still conflicts.
		if err := s.UpdateKey(t.Context(), &next, record.AuditEvent{}); !errors.Is(err, record.ErrConflict) {
			t.Errorf("stale UpdateKey = %v, want ErrConflict", err)
		}
	})
}

// refusingTransport answers every request of op on table with a
// non-retryable 400, sending nothing; other requests go through.
type refusingTransport struct{ op, table string }

func (r refusingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(body))
	if strings.HasSuffix(req.Header.Get("X-Amz-Target"), "."+r.op) && bytes.Contains(body, []byte(`"`+r.table+`"`)) {
		return dynamoError(req, http.StatusBadRequest, "ValidationException", "refused"), nil
	}
	return http.DefaultTransport.RoundTrip(req)
}

func TestFailedEventCopyAfterCommitIsLoggedNotReturned(t *testing.T) {
	base := openClosing(t)
	client := dynamodb.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		HTTPClient:  &http.Client{Transport: refusingTransport{op: "PutItem", table: base.t.events}},
	}, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(endpoint) })
	var logged bytes.Buffer
	s := &Store{client: client, t: base.t, logger: slog.New(slog.NewTextHandler(&logged, nil))}
	if err := s.CreateKey(t.Context(), storetest.NewKey("k1"), record.AuditEvent{Action: "created"}); err != nil {
		t.Fatalf("CreateKey failed on its best-effort copy: %v", err)
	}
	if !strings.Contains(logged.String(), "key_events") || !strings.Contains(logged.String(), "id=k1") || !strings.Contains(logged.String(), "refused") {
		t.Fatalf("log = %q, want the failed copy of k1's event with its cause", logged.String())
	}
	// History still has the event, from the key item.
	if evs, err := base.KeyHistory(t.Context(), "k1"); err != nil || len(evs) != 1 {
		t.Fatalf("history = %+v, %v", evs, err)
	}
}

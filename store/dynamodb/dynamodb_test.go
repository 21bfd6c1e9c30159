package dynamodb

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store"
	"github.com/aigate/aigate/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openStore(t) })
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want Config
		err  string
	}{
		{url: "dynamodb://aigate-prod-", want: Config{Prefix: "aigate-prod-"}},
		{url: "dynamodb://aigate_?region=eu-west-1", want: Config{Prefix: "aigate_", Region: "eu-west-1"}},
		{url: "dynamodb://dev.?endpoint=http://127.0.0.1:4567&region=us-east-1",
			want: Config{Prefix: "dev.", Region: "us-east-1", Endpoint: "http://127.0.0.1:4567"}},
		{url: "dynamodb://dev_?endpoint=http%3A%2F%2Flocalhost%3A8000", want: Config{Prefix: "dev_", Endpoint: "http://localhost:8000"}},
		{url: "dynamodb:dev_", want: Config{Prefix: "dev_"}},
		{url: "dynamodb://", want: Config{}},
		{url: "sqlite:x.db", err: "does not start with dynamodb://"},
		{url: "dynamodb://bad/prefix", err: "table prefix"},
		{url: "dynamodb://has space", err: "table prefix"},
		{url: "dynamodb://" + strings.Repeat("a", 200), want: Config{Prefix: strings.Repeat("a", 200)}},
		{url: "dynamodb://" + strings.Repeat("a", 201), err: "table prefix"},
		{url: "dynamodb://café", err: "table prefix"},
		{url: "dynamodb://p?regoin=eu-west-1", err: `unknown parameter "regoin"`},
		{url: "dynamodb://p?region=a&region=b", err: "given 2 times"},
		{url: "dynamodb://p?endpoint=127.0.0.1:8000", err: "not an http(s) URL"},
		{url: "dynamodb://p?endpoint=ftp://host", err: "not an http(s) URL"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			got, err := ParseURL(tc.url)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), "dynamodb: ") {
					t.Fatalf("ParseURL = %+v, %v; want an error containing %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseURL = %+v, %v; want %+v", got, err, tc.want)
			}
			if again, err := ParseURL(got.String()); err != nil || again != got {
				t.Errorf("ParseURL(%q) = %+v, %v; want the same config back", got.String(), again, err)
			}
		})
	}
}

// isolateAWSConfig hides the machine's AWS settings from the SDK.
func isolateAWSConfig(t *testing.T) {
	for _, v := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"} {
		t.Setenv(v, "")
	}
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
}

func TestOpenTakesTheRegionFromTheURLOrTheEnvironment(t *testing.T) {
	isolateAWSConfig(t)
	ctx := t.Context()
	if _, err := Open(ctx, Config{Prefix: "p_"}); err == nil || !strings.Contains(err.Error(), "no region") {
		t.Errorf("Open on AWS without a region = %v, want a no-region error", err)
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		env  string
		want string
	}{
		{"url", Config{Region: "eu-west-1"}, "", "eu-west-1"},
		{"env", Config{}, "ap-south-1", "ap-south-1"},
		{"url wins", Config{Region: "eu-west-1"}, "ap-south-1", "eu-west-1"},
		{"loopback default", Config{Endpoint: "http://127.0.0.1:1"}, "", "us-east-1"},
		{"localhost default", Config{Endpoint: "http://localhost:1"}, "", "us-east-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("AWS_REGION", tc.env)
			s, err := Open(ctx, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.client.Options().Region; got != tc.want {
				t.Errorf("region = %q, want %q", got, tc.want)
			}
		})
	}
}

// A loopback endpoint works with no credentials anywhere (dummy ones are
// used); that is what every test here relies on, shown once explicitly.
func TestLoopbackEndpointNeedsNoCredentials(t *testing.T) {
	isolateAWSConfig(t)
	s := openClosing(t)
	if _, err := s.GetKey(t.Context(), "absent"); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("GetKey = %v, want ErrNotFound", err)
	}
	creds, err := s.client.Options().Credentials.Retrieve(t.Context())
	if err != nil || creds.AccessKeyID != "local" {
		t.Errorf("credentials = %+v, %v; want the static dummy ones", creds, err)
	}
}

// Missing tables (or any store fault) are errors, never ErrNotFound or a
// Denial that a caller could read as "no such key" or "over quota", and
// never a success.
func TestStoreFaultsAreErrorsNotAnswers(t *testing.T) {
	s, err := Open(t.Context(), Config{Prefix: "missing_", Endpoint: endpoint})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	k := storetest.NewKey("k1")
	checks := map[string]error{
		"CreateKey": s.CreateKey(ctx, k, record.AuditEvent{Action: record.ActionCreated}),
		"UpdateKey": s.UpdateKey(ctx, k, record.AuditEvent{}),
		"Release":   s.Release(ctx, "r1"),
	}
	_, checks["GetKey"] = s.GetKey(ctx, "k1")
	_, checks["ListKeys"] = s.ListKeys(ctx, store.ListOptions{})
	_, checks["KeyHistory"] = s.KeyHistory(ctx, "k1")
	_, checks["Reserve"] = s.Reserve(ctx, quota.Reservation{ID: "r1", PrincipalID: "p", Tokens: 1, Windows: quota.WindowsAt(time.Now())}, record.Limits{TPM: 10})
	_, checks["Settle"] = s.Settle(ctx, quota.Settlement{Reservation: quota.Reservation{ID: "r1"}})
	_, checks["ExpireReservations"] = s.ExpireReservations(ctx, time.Now())
	_, checks["Usage"] = s.Usage(ctx, quota.Query{})
	for op, err := range checks {
		var d *quota.Denial
		switch {
		case err == nil:
			t.Errorf("%s on missing tables succeeded", op)
		case errors.Is(err, record.ErrNotFound), errors.Is(err, record.ErrConflict), errors.As(err, &d):
			t.Errorf("%s on missing tables = %v, which reads as an answer", op, err)
		case !strings.HasPrefix(err.Error(), "dynamodb: "):
			t.Errorf("%s error %q does not name the package", op, err)
		}
	}
}

func TestCreateTablesIsIdempotent(t *testing.T) {
	s := openClosing(t) // created them once
	got, err := s.CreateTables(t.Context())
	if err != nil {
		t.Fatalf("second CreateTables: %v", err)
	}
	if len(got) != 5 {
		t.Fatalf("CreateTables reported %d tables, want 5", len(got))
	}
	for _, st := range got {
		if st.Created {
			t.Errorf("table %s created again", st.Name)
		}
		if (st.Name == s.t.usage) != (st.TTL != "") {
			t.Errorf("table %s: TTL %q", st.Name, st.TTL)
		}
	}
	// dynalite has no UpdateTimeToLive: the status says so instead of
	// failing; AWS reads "enabled on ttl". Any other status is a failure.
	switch ttl := got[2].TTL; ttl {
	case "enabled on ttl", "not supported by this endpoint (dynalite): window items are not expired":
	default:
		t.Errorf("usage table TTL status %q", ttl)
	}
	// What TTL expires by: every window item carries its expiry, the
	// window's end plus how long it is kept.
	if _, err := s.Reserve(t.Context(), crashReservation("r1", 300), record.Limits{}); err != nil {
		t.Fatal(err)
	}
	for _, w := range windowsOf(quota.WindowsAt(crashBase)) {
		out, err := s.client.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(s.t.usage), Key: item{"pk": w.key("p")}})
		if err != nil {
			t.Fatal(err)
		}
		if ttl, err := getN(out.Item, usageTTLAttribute); err != nil || ttl != w.end.Add(w.keep).Unix() {
			t.Errorf("%s window item: ttl %d (%v), want %d", w.kind, ttl, err, w.end.Add(w.keep).Unix())
		}
	}
}

func TestErrorsNameThePackage(t *testing.T) {
	s := openClosing(t)
	_, err := s.GetKey(t.Context(), "missing")
	if want := `dynamodb: get key "missing": not found`; err == nil || err.Error() != want {
		t.Errorf("GetKey error = %v, want %q", err, want)
	}
}

// Times are kept to the nanosecond, like SQLite, although the suite asks
// only for milliseconds; times an int64 of nanoseconds cannot hold are
// refused before anything is written.
func TestTimesKeepNanosecondsAndOutOfRangeIsRefused(t *testing.T) {
	s := openClosing(t)
	k := storetest.NewKey("k1")
	k.CreatedAt = time.Date(2030, 1, 2, 3, 4, 5, 999_999_999, time.FixedZone("CET", 3600))
	k.RevokedAt = time.Unix(0, 0) // the epoch is not the zero time
	if err := s.CreateKey(t.Context(), k, record.AuditEvent{Action: record.ActionCreated}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetKey(t.Context(), "k1")
	if err != nil {
		t.Fatal(err)
	}
	if !got.CreatedAt.Equal(k.CreatedAt) || got.CreatedAt.Location() != time.UTC || !got.RevokedAt.Equal(k.RevokedAt) || got.RevokedAt.IsZero() {
		t.Errorf("CreatedAt %v, RevokedAt %v; want %v and the epoch", got.CreatedAt, got.RevokedAt, k.CreatedAt)
	}
	far := storetest.NewKey("k2")
	far.ExpiresAt = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	if err := s.CreateKey(t.Context(), far, record.AuditEvent{}); err == nil {
		t.Error("CreateKey with a year-9999 expiry succeeded")
	}
	if _, err := s.GetKey(t.Context(), "k2"); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("the refused key was stored: %v", err)
	}
}

func TestOrderKeySortsLikeTimeThenID(t *testing.T) {
	times := []time.Time{
		{},
		time.Date(1700, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(-1, 0),
		time.Unix(0, 0),
		time.Unix(0, 1),
		time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC),
		time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	ids := []string{"", "a", "a#", "ab", "b"}
	var prev string
	for _, at := range times {
		for _, id := range ids {
			k := orderKey(at, id)
			if prev != "" && k <= prev {
				t.Errorf("orderKey(%v, %q) = %s sorts before %s", at, id, k, prev)
			}
			prev = k
		}
	}
}

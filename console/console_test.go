package console

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aigate/aigate/apikey"
	"github.com/aigate/aigate/keys"
	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store/sqlite"
)

// fixture is a console over a fresh SQLite store, on 127.0.0.1.
type fixture struct {
	t       *testing.T
	srv     *httptest.Server
	mgr     *keys.Manager
	admin   *keys.Issued // an admin key
	user    *keys.Issued // an ordinary key
	logs    *bytes.Buffer
	console *Console
}

func newFixture(t *testing.T, tls bool) *fixture {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "aigate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	hk, err := apikey.NewHashKey()
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := apikey.NewHasher(hk)
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	c, err := New(&Console{Store: st, Hasher: hasher, Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, mgr: &keys.Manager{Store: st, Hasher: hasher, Actor: "test"}, logs: logs, console: c}
	if f.admin, err = f.mgr.Create(t.Context(), keys.Spec{Name: "ops", Role: record.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	if f.user, err = f.mgr.Create(t.Context(), keys.Spec{Name: "svc", Tenant: "acme", Models: []string{"echo"}}); err != nil {
		t.Fatal(err)
	}
	if tls {
		f.srv = httptest.NewTLSServer(c)
	} else {
		f.srv = httptest.NewServer(c)
	}
	t.Cleanup(f.srv.Close)
	return f
}

// target creates a key for an endpoint to act on.
func (f *fixture) target() string {
	f.t.Helper()
	is, err := f.mgr.Create(f.t.Context(), keys.Spec{Name: "target", Models: []string{"*"}})
	if err != nil {
		f.t.Fatal(err)
	}
	return is.Key.ID
}

// signIn returns a client holding the session cookie, and the CSRF token.
func (f *fixture) signIn() (*http.Client, string) {
	f.t.Helper()
	jar, _ := cookiejar.New(nil)
	// A client of its own: srv.Client() is shared, and must stay cookieless.
	client := &http.Client{Transport: f.srv.Client().Transport, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Post(f.srv.URL+"/console/api/session", "application/json", strings.NewReader(`{"key":"`+f.admin.Secret+`"}`))
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		CSRF string `json:"csrf_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 || out.CSRF == "" {
		f.t.Fatalf("sign-in: %d, %v, %+v", resp.StatusCode, err, out)
	}
	return client, out.CSRF
}

type endpoint struct {
	method, path string // path may hold {id}: a fresh target key
	body         string
	wantOK       int
}

var endpoints = []endpoint{
	{"GET", "/console/api/keys", "", 200},
	{"POST", "/console/api/keys", `{"name":"new","models":["echo"]}`, 201},
	{"GET", "/console/api/keys/{id}", "", 200},
	{"POST", "/console/api/keys/{id}/rotate", `{"grace":"1h"}`, 200},
	{"POST", "/console/api/keys/{id}/revoke", "", 200},
	{"GET", "/console/api/tenants", "", 200},
	{"GET", "/console/api/tenants/acme", "", 200},
	{"POST", "/console/api/tenants/acme", `{"usd_per_day":"12.50","rpm":60}`, 200},
	{"GET", "/console/api/usage", "", 200},
	{"GET", "/console/api/audit", "", 200},
	{"DELETE", "/console/api/session", "", 204},
}

func (f *fixture) do(client *http.Client, e endpoint, header http.Header) (int, string) {
	f.t.Helper()
	path := e.path
	if strings.Contains(path, "{id}") {
		path = strings.ReplaceAll(path, "{id}", f.target())
	}
	req, err := http.NewRequestWithContext(f.t.Context(), e.method, f.srv.URL+path, strings.NewReader(e.body))
	if err != nil {
		f.t.Fatal(err)
	}
	if e.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestEveryEndpointAdmitsOnlyAdmins drives each endpoint with each kind
// of credential.
func TestEveryEndpointAdmitsOnlyAdmins(t *testing.T) {
	f := newFixture(t, false)
	bearer := func(v string) http.Header { return http.Header{"Authorization": {"Bearer " + v}} }
	// A real-looking JWT: the console takes no JWT, whoever signed it.
	jwt := "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
	forged := http.Header{"Cookie": {cookieName + "=" + strings.Repeat("A", 52)}}
	for _, e := range endpoints {
		t.Run(e.method+" "+e.path, func(t *testing.T) {
			plain := f.srv.Client()
			for _, tc := range []struct {
				name   string
				client func() (*http.Client, http.Header)
				want   int
			}{
				{"admin key", func() (*http.Client, http.Header) { return plain, bearer(f.admin.Secret) }, e.wantOK},
				{"non-admin key", func() (*http.Client, http.Header) { return plain, bearer(f.user.Secret) }, 403},
				{"jwt", func() (*http.Client, http.Header) { return plain, bearer(jwt) }, 401},
				{"no credential", func() (*http.Client, http.Header) { return plain, nil }, 401},
				{"forged cookie", func() (*http.Client, http.Header) { return plain, forged }, 401},
				{"cookie with csrf", func() (*http.Client, http.Header) {
					c, csrf := f.signIn()
					return c, http.Header{csrfHeader: {csrf}}
				}, e.wantOK},
				{"cookie without csrf", func() (*http.Client, http.Header) {
					c, _ := f.signIn()
					return c, nil
				}, map[bool]int{true: 403, false: e.wantOK}[stateChanging(e.method)]},
				{"cookie with another session's csrf", func() (*http.Client, http.Header) {
					c, _ := f.signIn()
					_, other := f.signIn()
					return c, http.Header{csrfHeader: {other}}
				}, map[bool]int{true: 403, false: e.wantOK}[stateChanging(e.method)]},
			} {
				client, h := tc.client()
				if got, body := f.do(client, e, h); got != tc.want {
					t.Errorf("%s: status %d, want %d: %s", tc.name, got, tc.want, body)
				}
			}
		})
	}
	if strings.Contains(f.logs.String(), f.admin.Secret) || strings.Contains(f.logs.String(), f.user.Secret) {
		t.Errorf("a key's secret is in the logs:\n%s", f.logs)
	}
}

// TestFailuresDoNotRevealWhetherAKeyExists: a wrong secret for a real key
// id and a key id that does not exist get the very same answer.
func TestFailuresDoNotRevealWhetherAKeyExists(t *testing.T) {
	f := newFixture(t, false)
	real, err := apikey.Parse(f.admin.Secret)
	if err != nil {
		t.Fatal(err)
	}
	wrongSecret, err := apikey.GenerateSecretFor(real.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, unknown, err := apikey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	revoked := f.target()
	revokedIssued, err := f.mgr.Rotate(t.Context(), revoked, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.mgr.Revoke(t.Context(), revoked); err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, cred := range []string{wrongSecret.String(), unknown.String(), "aig_malformed", revokedIssued.Secret} {
		status, body := f.do(f.srv.Client(), endpoints[0], http.Header{"Authorization": {"Bearer " + cred}})
		if status != 401 {
			t.Errorf("status %d, want 401", status)
		}
		bodies = append(bodies, body)
		// The sign-in form answers alike too.
		resp, err := f.srv.Client().PostForm(f.srv.URL+"/console/signin", url.Values{"key": {cred}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || !strings.Contains(string(b), "Sign-in failed") || resp.Header.Get("Set-Cookie") != "" {
			t.Errorf("sign-in with a bad key: %d, cookie %q", resp.StatusCode, resp.Header.Get("Set-Cookie"))
		}
	}
	for _, b := range bodies[1:] {
		if b != bodies[0] {
			t.Errorf("answers differ: %q vs %q", b, bodies[0])
		}
	}
}

func TestSessionCookieIsHttpOnlyStrictExpiringAndSecureUnderTLS(t *testing.T) {
	for _, tls := range []bool{false, true} {
		f := newFixture(t, tls)
		resp, err := f.srv.Client().Post(f.srv.URL+"/console/api/session", "application/json", strings.NewReader(`{"key":"`+f.admin.Secret+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		cookies := resp.Cookies()
		if len(cookies) != 1 {
			t.Fatalf("tls=%v: cookies %v", tls, cookies)
		}
		ck := cookies[0]
		if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure != tls || ck.Path != "/console/" ||
			ck.MaxAge <= 0 || ck.Expires.IsZero() || ck.Expires.After(time.Now().Add(9*time.Hour)) {
			t.Errorf("tls=%v: cookie %+v", tls, ck)
		}
		if strings.Contains(ck.Value, f.admin.Secret) {
			t.Errorf("the cookie carries the admin key")
		}
	}
}

func TestEveryAnswerHasAStrictContentSecurityPolicy(t *testing.T) {
	f := newFixture(t, false)
	for _, path := range []string{"/console/signin", "/console/keys", "/console/api/keys", "/console/static/console.js", "/console/nope"} {
		resp, err := f.srv.Client().Get(f.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "http") {
			t.Errorf("%s: CSP %q allows inline code or another origin", path, csp)
		}
	}
	// The pages load nothing from another origin and have no inline script.
	client, _ := f.signIn()
	for _, path := range []string{"/console/keys", "/console/usage", "/console/tenants", "/console/audit"} {
		resp, err := client.Get(f.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page := string(b)
		if resp.StatusCode != 200 || strings.Contains(page, "<script>") || strings.Contains(page, "src=\"http") ||
			strings.Contains(page, "href=\"http") || strings.Contains(page, " style=") {
			t.Errorf("%s: %d, or it has inline script/style or another origin:\n%s", path, resp.StatusCode, page)
		}
	}
}

// TestRevokingTheAdminKeyEndsItsSessions: a session is only as good as
// the key it was opened with.
func TestRevokingTheAdminKeyEndsItsSessions(t *testing.T) {
	f := newFixture(t, false)
	client, _ := f.signIn()
	if got, _ := f.do(client, endpoints[0], nil); got != 200 {
		t.Fatalf("signed in: %d", got)
	}
	if _, err := f.mgr.Revoke(t.Context(), f.admin.Key.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.do(client, endpoints[0], nil); got != 401 {
		t.Errorf("after revoking the admin key: %d, want 401", got)
	}
}

func TestKeyChangesAreAuditedInTheAdminsName(t *testing.T) {
	f := newFixture(t, false)
	h := http.Header{"Authorization": {"Bearer " + f.admin.Secret}}
	if got, body := f.do(f.srv.Client(), endpoint{"POST", "/console/api/keys", `{"name":"audited"}`, 201}, h); got != 201 {
		t.Fatalf("create: %d %s", got, body)
	}
	_, body := f.do(f.srv.Client(), endpoint{"GET", "/console/api/audit", "", 200}, h)
	var out struct {
		Events []AuditEntry `json:"events"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	// Newest first: the key just created, by the admin.
	if len(out.Events) == 0 || out.Events[0].KeyName != "audited" || out.Events[0].Actor != "console key:"+f.admin.Key.ID {
		t.Errorf("audit = %+v", out.Events)
	}
}

func TestUsageGroupsAndBucketsTheLedger(t *testing.T) {
	f := newFixture(t, false)
	now := time.Now().UTC()
	st := f.console.Store
	for i, model := range []string{"echo", "echo", "gpt-4o"} {
		r := quota.Reservation{ID: "r" + string(rune('0'+i)), PrincipalID: record.KeyPrincipalID(f.user.Key.ID), Tenant: "acme", Model: model,
			Tokens: 10, Windows: quota.WindowsAt(now), CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
		if _, err := st.Reserve(t.Context(), r, record.Limits{}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Settle(t.Context(), quota.Settlement{Reservation: r, PromptTokens: 3, CompletionTokens: 4, At: now}); err != nil {
			t.Fatal(err)
		}
	}
	h := http.Header{"Authorization": {"Bearer " + f.admin.Secret}}
	_, body := f.do(f.srv.Client(), endpoint{"GET", "/console/api/usage?group_by=model&tenant=acme", "", 200}, h)
	var rep UsageReport
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Total.Requests != 3 || rep.Total.TotalTokens != 21 || len(rep.Groups) != 2 || rep.Groups[0].Model != "echo" || rep.Groups[0].Requests != 2 {
		t.Errorf("usage = %+v", rep)
	}
	var inSeries int64
	for _, p := range rep.Series {
		inSeries += p.Requests
	}
	if rep.Step != "hour" || inSeries != 3 {
		t.Errorf("series step %q holds %d requests, want hour and 3", rep.Step, inSeries)
	}
}

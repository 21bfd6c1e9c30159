package console_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/chromedp"

	"github.com/aigate/aigate/apikey"
	"github.com/aigate/aigate/keys"
	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/server"
)

// byRole finds elements by their ARIA role and accessible name, as a
// person (or a screen reader) finds them, through Chromium's accessibility
// tree. Queries retry until the element exists, like every chromedp query.
func byRole(role, name string) chromedp.QueryOption {
	return chromedp.ByFunc(func(ctx context.Context, t *chromedp.Target, n *chromedp.Node) ([]cdp.NodeID, error) {
		res, err := cdp.Call(ctx, t, accessibility.QueryAXTree, accessibility.QueryAXTreeParams{NodeID: n.NodeID, Role: role, AccessibleName: name})
		if err != nil {
			return nil, err
		}
		var backend []cdp.BackendNodeID
		for _, ax := range res.Nodes {
			if !ax.Ignored && ax.BackendDOMNodeID != 0 {
				backend = append(backend, ax.BackendDOMNodeID)
			}
		}
		if len(backend) == 0 {
			return nil, nil
		}
		pushed, err := cdp.Call(ctx, t, dom.PushNodesByBackendIDsToFrontend, dom.PushNodesByBackendIDsToFrontendParams{BackendNodeIDs: backend})
		if err != nil {
			return nil, err
		}
		return pushed.NodeIDs, nil
	})
}

// role names a query for error messages; byRole does the finding.
func role(r, name string) chromedp.CSS { return chromedp.CSS(r + " " + name) }

// TestConsoleInABrowser drives the console in headless Chromium the way an
// operator would: sign in (a wrong key is refused), list keys, create one
// and read its secret once, see its calls on the usage chart, revoke it
// with a confirmation, and find it refused by the AI API.
func TestConsoleInABrowser(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed (scripts/test installs it: apt-get install -y chromium): %v", err)
	}
	artifacts := os.Getenv("AIGATE_ARTIFACTS")
	if artifacts == "" {
		artifacts = t.TempDir()
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}

	// aigate serve's handler, on 127.0.0.1, over a fresh data directory.
	data := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(t.Context(), server.Options{DataDir: data, IssuerURL: server.IssuerURLFor(ln.Addr().String())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	hs := &http.Server{Handler: srv}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	base := "http://" + ln.Addr().String()

	hasher, err := apikey.LoadHasher(apikey.HasherConfig{Dir: data})
	if err != nil {
		t.Fatal(err)
	}
	m := &keys.Manager{Store: srv.Store(), Hasher: hasher, Actor: "test"}
	admin, err := m.Create(t.Context(), keys.Spec{Name: "ops", Role: record.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	_, wrong, err := apikey.Generate() // well-formed, unknown
	if err != nil {
		t.Fatal(err)
	}

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.WindowSize(1280, 900), chromedp.UserDataDir(t.TempDir()))
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(browser); err != nil { // starts the browser, without a timeout
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(browser, 30*time.Second)
	defer cancel()

	shot := func(name string) {
		t.Helper()
		sctx, cancel := context.WithTimeout(browser, 10*time.Second)
		defer cancel()
		png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(artifacts, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	click := func(r, name string) chromedp.Action[chromedp.Void] {
		return chromedp.Click(role(r, name), byRole(r, name), chromedp.NodeVisible)
	}
	fill := func(label, text string) chromedp.Action[chromedp.Void] {
		return chromedp.SendKeys(role("textbox", label), text, byRole("textbox", label), chromedp.NodeVisible)
	}
	see := func(r, name string) chromedp.Action[chromedp.Void] {
		return chromedp.WaitVisible(role(r, name), byRole(r, name))
	}

	// A wrong key is refused, and no Keys page follows.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/console/"),
		fill("Admin key", wrong.String()),
		click("button", "Sign in"),
		chromedp.WaitVisible(chromedp.CSS(`p.error[role=alert]`)),
	); err != nil {
		t.Fatalf("sign in with a wrong key: %v", err)
	}
	if msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`p.error`))); err != nil || !strings.Contains(msg, "Sign-in failed") {
		t.Fatalf("after a wrong key the page says %q (%v)", msg, err)
	}
	shot("signin-refused")

	// The admin key gets in: the Keys page, its navigation, the key table.
	if err := chromedp.Do(ctx,
		fill("Admin key", admin.Secret),
		click("button", "Sign in"),
		see("heading", "Keys"),
		see("link", "Keys"), see("link", "Usage"), see("link", "Tenants"), see("link", "Audit"),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`tr[data-key-id=%q]`, admin.Key.ID))),
	); err != nil {
		t.Fatalf("sign in with the admin key: %v", err)
	}
	shot("keys")

	// Create a key through the form; its secret is shown once.
	if err := chromedp.Do(ctx,
		click("button", "Create key"),
		fill("Name", "browser-made"),
		chromedp.Clear(chromedp.ID("models")),
		chromedp.SendKeys(chromedp.ID("models"), "echo"),
		click("button", "Create"),
		chromedp.WaitVisible(chromedp.ID("secret")),
	); err != nil {
		shot("create-failed")
		t.Fatalf("create a key: %v", err)
	}
	secret, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("secret")))
	if err != nil {
		t.Fatal(err)
	}
	created, err := apikey.Parse(strings.TrimSpace(secret))
	if err != nil {
		t.Fatalf("the page shows %q, not a key: %v", secret, err)
	}
	secret = strings.TrimSpace(secret)
	shot("key-created")

	// The new key calls the AI API; the calls show on the usage chart.
	for i := range 3 {
		if code := chat(t, base, secret); code != 200 {
			t.Fatalf("call %d with the new key: status %d", i, code)
		}
	}
	if err := chromedp.Do(ctx,
		click("link", "Usage"),
		see("heading", "Usage"),
		see("image", "Requests per hour"),
		see("image", "Tokens per hour"),
		see("image", "Cost per hour (USD)"),
	); err != nil {
		t.Fatalf("usage page: %v", err)
	}
	bars, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('svg.chart rect.bar').length`))
	if err != nil || bars < 2 {
		t.Fatalf("the usage charts have %d bars (%v), want the hour's bar in each", bars, err)
	}
	table, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`table.usage tbody`)))
	if err != nil || !strings.Contains(table, created.ID) {
		t.Fatalf("the usage table does not show the key %s: %q (%v)", created.ID, table, err)
	}
	shot("usage")

	for _, p := range []string{"Tenants", "Audit"} {
		if err := chromedp.Do(ctx, click("link", p), see("heading", p)); err != nil {
			t.Fatalf("%s page: %v", p, err)
		}
		shot(strings.ToLower(p))
	}
	// Set a tenant's budget through the Tenants page's form.
	if err := chromedp.Do(ctx,
		click("link", "Tenants"), see("heading", "Tenants"),
		fill("Tenant", "browser-team"),
		fill("USD per day", "12.50"),
		click("button", "Set limits"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-tenant="browser-team"]`)),
	); err != nil {
		shot("tenant-failed")
		t.Fatalf("set a tenant's limits: %v", err)
	}
	tenantRow, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`tr[data-tenant="browser-team"]`)))
	if err != nil || !strings.Contains(tenantRow, "$12.50") {
		t.Fatalf("the tenant's row is %q (%v), want its $12.50 budget", tenantRow, err)
	}
	shot("tenant-set")

	// Revoke the new key: the row's Revoke button, then the confirmation.
	row := fmt.Sprintf(`tr[data-key-id=%q]`, created.ID)
	if err := chromedp.Do(ctx, click("link", "Keys"), see("heading", "Keys")); err != nil {
		t.Fatalf("back to keys: %v", err)
	}
	rows, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS(row)))
	if err != nil || len(rows) != 1 {
		t.Fatalf("the key's row: %v", err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(role("button", "Revoke"), byRole("button", "Revoke"), chromedp.FromNode(rows[0]), chromedp.NodeVisible),
		see("heading", "Revoke key browser-made?"),
	); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	shot("revoke-confirm")
	if code := chat(t, base, secret); code != 200 {
		t.Fatalf("before the confirmation the key works no more: %d", code)
	}
	if err := chromedp.Do(ctx, click("button", "Yes, revoke"), see("heading", "Keys")); err != nil {
		t.Fatalf("confirm revoke: %v", err)
	}
	status, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(row+` td.status`)))
	if err != nil || status != "revoked" {
		t.Fatalf("after revoking, the row's status is %q (%v), want revoked", status, err)
	}
	shot("keys-revoked")
	if code := chat(t, base, secret); code != 401 {
		t.Fatalf("the revoked key gets %d from the AI API, want 401", code)
	}
	// AIGATE_UPDATE_DOCS=1 refreshes the README's screenshot.
	if os.Getenv("AIGATE_UPDATE_DOCS") != "" {
		png, err := os.ReadFile(filepath.Join(artifacts, "usage.png"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("..", "docs", "console.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots in %s", artifacts)
}

// chat makes one echo chat completion through the AI API.
func chat(t *testing.T, base, key string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "POST", base+"/v1/chat/completions",
		strings.NewReader(`{"model":"echo","messages":[{"role":"user","content":"hello console"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

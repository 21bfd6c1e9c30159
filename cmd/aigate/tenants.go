package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/aigate/aigate/cmd/internal/env"
	"github.com/aigate/aigate/keys"
	"github.com/aigate/aigate/store"
)

const tenantsUsage = `usage: aigate tenants <set|list|show> [flags]

  set NAME [--usd-per-day X] [--usd-per-month Y] [--tokens-per-day N] [--rpm N]
      creates the tenant or changes the limits given (0: unlimited); the
      others keep their value. Every request of the tenant's keys, and of
      JWT principals whose tenant claim names it, must fit these too.
  list [--json]
  show NAME [--json]
`

func runTenants(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, tenantsUsage)
		return &exitError{code: 2, err: errSilent}
	}
	switch args[0] {
	case "set":
		return tenantsSet(ctx, args[1:], stdout, stderr)
	case "list":
		return tenantsList(ctx, args[1:], stdout, stderr)
	case "show":
		return tenantsShow(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, tenantsUsage)
		return nil
	default:
		fmt.Fprint(stderr, tenantsUsage)
		return usageErr("unknown tenants command %q", args[0])
	}
}

// optInt64 is an integer flag that knows whether it was given.
type optInt64 struct {
	v   int64
	set bool
}

func (f *optInt64) String() string { return fmt.Sprint(f.v) }
func (f *optInt64) Set(s string) error {
	var v int64
	if _, err := fmt.Sscan(s, &v); err != nil || fmt.Sprint(v) != s {
		return fmt.Errorf("%q is not a whole number", s)
	}
	if v < 0 {
		return errors.New("must be 0 (unlimited) or more")
	}
	f.v, f.set = v, true
	return nil
}

func (f *optInt64) ptr() *int64 {
	if !f.set {
		return nil
	}
	v := f.v
	return &v
}

// oneName is the single positional argument of a tenants command.
func oneName(fs *flag.FlagSet, args []string, cmd string) (string, error) {
	pos, err := parse(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		return "", usageErr("%s takes exactly one tenant name", cmd)
	}
	if err := keys.CheckTenantName(pos[0]); err != nil {
		return "", usageErr("%s: %v", cmd, err)
	}
	return pos[0], nil
}

func tenantsSet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s env.Settings
	fs := newFlagSet("tenants set", stderr, &s)
	var usdDay, usdMonth usdFlag
	var tokensDay, rpm optInt64
	fs.Var(&usdDay, "usd-per-day", "USD per UTC day, e.g. 50 or 12.5 (0: unlimited)")
	fs.Var(&usdMonth, "usd-per-month", "USD per UTC month (0: unlimited)")
	fs.Var(&tokensDay, "tokens-per-day", "tokens per UTC day (0: unlimited)")
	fs.Var(&rpm, "rpm", "requests per minute (0: unlimited)")
	asJSON := fs.Bool("json", false, "print JSON")
	name, err := oneName(fs, args, "tenants set")
	if err != nil {
		return err
	}
	m, closeFn, err := openManager(ctx, s, "aigate tenants set")
	if err != nil {
		return err
	}
	defer closeFn()
	t, err := m.SetTenant(ctx, name, keys.TenantChange{
		USDPerDay: usdDay.ptr(), USDPerMonth: usdMonth.ptr(), TokensPerDay: tokensDay.ptr(), RPM: rpm.ptr(),
	})
	if err != nil {
		return wrapKeysErr(err)
	}
	if *asJSON {
		return writeJSON(stdout, tenantViewOf(t))
	}
	what := "updated"
	if t.Version == 1 {
		what = "created"
	}
	fmt.Fprintf(stdout, "Tenant %s %s: %s.\n", t.Name, what, tenantLimits(t))
	return nil
}

// tenantView is how a tenant is shown; dollars as exact decimals.
type tenantView struct {
	Name         string      `json:"name"`
	USDPerDay    json.Number `json:"usd_per_day"`
	USDPerMonth  json.Number `json:"usd_per_month"`
	TokensPerDay int64       `json:"tokens_per_day"`
	RPM          int64       `json:"rpm"`
	CreatedAt    time.Time   `json:"created_at"`
	UpdatedAt    time.Time   `json:"updated_at"`
	Version      int64       `json:"version"`
}

func tenantViewOf(t *store.Tenant) tenantView {
	return tenantView{
		Name: t.Name, USDPerDay: usd(t.Limits.USDPerDay), USDPerMonth: usd(t.Limits.USDPerMonth),
		TokensPerDay: t.Limits.TokensPerDay, RPM: t.Limits.RPM,
		CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC(), Version: t.Version,
	}
}

func tenantLimits(t *store.Tenant) string {
	return fmt.Sprintf("usd %s/day, %s/month; tokens/day %s; rpm %s", usdLimit(t.Limits.USDPerDay), usdLimit(t.Limits.USDPerMonth),
		limit(t.Limits.TokensPerDay), limit(t.Limits.RPM))
}

func tenantsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s env.Settings
	fs := newFlagSet("tenants list", stderr, &s)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("tenants list takes no arguments, got %q", pos[0])
	}
	st, err := s.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	list, err := st.ListTenants(ctx)
	if err != nil {
		return err
	}
	views := make([]tenantView, len(list))
	for i, t := range list {
		views[i] = tenantViewOf(t)
	}
	if *asJSON {
		return writeJSON(stdout, views)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tUSD/DAY\tUSD/MONTH\tTOKENS/DAY\tRPM\tUPDATED")
	for _, t := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, usdLimit(t.Limits.USDPerDay), usdLimit(t.Limits.USDPerMonth),
			limit(t.Limits.TokensPerDay), limit(t.Limits.RPM), t.UpdatedAt.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

func tenantsShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s env.Settings
	fs := newFlagSet("tenants show", stderr, &s)
	asJSON := fs.Bool("json", false, "print JSON")
	name, err := oneName(fs, args, "tenants show")
	if err != nil {
		return err
	}
	st, err := s.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	t, err := st.GetTenant(ctx, name)
	if err != nil {
		return wrapKeysErr(fmt.Errorf("tenant %s: %w", name, err))
	}
	history, err := st.TenantHistory(ctx, name)
	if err != nil {
		return err
	}
	keyList, err := st.ListKeys(ctx, store.ListOptions{Tenant: name})
	if err != nil {
		return err
	}
	ids := make([]string, len(keyList))
	for i, k := range keyList {
		ids[i] = k.ID
	}
	if *asJSON {
		return writeJSON(stdout, struct {
			tenantView
			Keys    []string            `json:"keys"`
			History []store.TenantEvent `json:"history"`
		}{tenantViewOf(t), ids, history})
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "tenant:\t%s\nlimits:\t%s\nkeys:\t%d\ncreated:\t%s\nupdated:\t%s\n", t.Name, tenantLimits(t), len(ids),
		t.CreatedAt.UTC().Format(time.RFC3339), t.UpdatedAt.UTC().Format(time.RFC3339))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\nhistory:")
	tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, ev := range history {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", ev.At.UTC().Format(time.RFC3339), ev.Action, ev.Actor, ev.Detail)
	}
	return tw.Flush()
}

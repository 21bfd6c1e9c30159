package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aigate/aigate/cmd/internal/env"
	"github.com/aigate/aigate/keys"
	"github.com/aigate/aigate/record"
	"github.com/aigate/aigate/store"
)

const keysUsage = `usage: aigate keys <create|list|show|revoke|rotate> [flags]

  create --name NAME [--admin] [--tenant T] [--models 'glob,glob'] [--rpm N] [--tpm N]
         [--tokens-per-day N] [--tokens-per-month N] [--usd-per-day X] [--usd-per-month Y]
         [--expires DURATION|RFC3339] [--json]
  list [--tenant T] [--json]
  show ID [--json]
  revoke ID
  rotate ID [--grace DURATION] [--json]
`

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return &exitError{code: 2, err: errSilent}
	}
	switch args[0] {
	case "create":
		return keysCreate(ctx, args[1:], stdout, stderr)
	case "list":
		return keysList(ctx, args[1:], stdout, stderr)
	case "show":
		return keysShow(ctx, args[1:], stdout, stderr)
	case "revoke":
		return keysRevoke(ctx, args[1:], stdout, stderr)
	case "rotate":
		return keysRotate(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, keysUsage)
		return nil
	default:
		fmt.Fprint(stderr, keysUsage)
		return usageErr("unknown keys command %q", args[0])
	}
}

// openManager opens the store and the hasher for a keys command.
func openManager(ctx context.Context, s env.Settings, actor string) (*keys.Manager, func(), error) {
	hasher, err := s.Hasher()
	if err != nil {
		return nil, nil, err
	}
	st, err := s.OpenStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	return &keys.Manager{Store: st, Hasher: hasher, Actor: actor}, func() { st.Close() }, nil
}

// wrapKeysErr maps domain errors to exit codes: a bad request or an unknown
// key is the user's input (2); anything else is a failure (1).
func wrapKeysErr(err error) error {
	if errors.Is(err, keys.ErrInvalid) || errors.Is(err, record.ErrNotFound) {
		return &exitError{code: 2, err: err}
	}
	return err
}

type int64Flag struct {
	name string
	v    *int64
}

func nonNegative(fs *flag.FlagSet, flags ...int64Flag) error {
	for _, f := range flags {
		if *f.v < 0 {
			return usageErr("--%s must be 0 (unlimited) or more", f.name)
		}
	}
	return nil
}

func keysCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s env.Settings
	fs := newFlagSet("keys create", stderr, &s)
	name := fs.String("name", "", "a name for the key (required)")
	tenant := fs.String("tenant", "", "tenant the key belongs to")
	models := fs.String("models", "*", "comma-separated model globs the key may use ('' for none: every call is denied; with --admin the default is none)")
	admin := fs.Bool("admin", false, "an admin key: it signs in to the console and calls the admin API (and no model unless --models is given)")
	var l record.Limits
	fs.Int64Var(&l.RPM, "rpm", 0, "requests per minute (0: unlimited)")
	fs.Int64Var(&l.TPM, "tpm", 0, "tokens per minute (0: unlimited)")
	fs.Int64Var(&l.TokensPerDay, "tokens-per-day", 0, "tokens per UTC day (0: unlimited)")
	fs.Int64Var(&l.TokensPerMonth, "tokens-per-month", 0, "tokens per UTC month (0: unlimited)")
	var usdDay, usdMonth usdFlag
	fs.Var(&usdDay, "usd-per-day", "USD per UTC day, e.g. 5 or 0.25 (0: unlimited; callers with one cannot use unpriced models)")
	fs.Var(&usdMonth, "usd-per-month", "USD per UTC month (0: unlimited)")
	expires := fs.String("expires", "", "expiry: a duration from now (90m, 720h, 30d) or an RFC 3339 time")
	usageKey := fs.String("usage-identifier-key", "", "API Gateway API key value for usage plans (apiKeySource AUTHORIZER)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("keys create takes no arguments, got %q", pos[0])
	}
	if *name == "" {
		return usageErr("keys create: --name is required")
	}
	if err := nonNegative(fs, int64Flag{"rpm", &l.RPM}, int64Flag{"tpm", &l.TPM},
		int64Flag{"tokens-per-day", &l.TokensPerDay}, int64Flag{"tokens-per-month", &l.TokensPerMonth}); err != nil {
		return err
	}
	l.USDPerDay, l.USDPerMonth = usdDay.micros, usdMonth.micros
	spec := keys.Spec{Name: *name, Tenant: *tenant, Models: splitList(*models), Limits: l, UsageIdentifierKey: *usageKey}
	if *admin {
		spec.Role = record.RoleAdmin
		if !flagSet(fs, "models") {
			// An admin key's job is administration: it calls models only
			// when asked for explicitly.
			spec.Models = nil
		}
	}
	now := time.Now()
	if *expires != "" {
		if spec.ExpiresAt, err = parseExpiry(*expires, now); err != nil {
			return usageErr("--expires: %v", err)
		}
	}
	if err := spec.Validate(now); err != nil {
		return usageErr("%v", err)
	}
	m, closeFn, err := openManager(ctx, s, "aigate keys create")
	if err != nil {
		return err
	}
	defer closeFn()
	issued, err := m.Create(ctx, spec)
	if err != nil {
		return wrapKeysErr(err)
	}
	return printIssued(stdout, issued, *asJSON, "created")
}

// flagSet reports whether the flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func printIssued(w io.Writer, is *keys.Issued, asJSON bool, what string) error {
	if asJSON {
		return writeJSON(w, struct {
			keys.View
			Key string `json:"key"`
		}{keys.ViewOf(is.Key, time.Now()), is.Secret})
	}
	k := is.Key
	fmt.Fprintf(w, "Key %s %s (name %q", k.ID, what, k.Name)
	if k.Tenant != "" {
		fmt.Fprintf(w, ", tenant %q", k.Tenant)
	}
	if k.Role != "" {
		fmt.Fprintf(w, ", role %s", k.Role)
	}
	fmt.Fprintf(w, ", models %s).\n\n    %s\n\nThis is the only time the key is shown: store it now.\n", strings.Join(k.Models, ","), is.Secret)
	if !k.PreviousExpiresAt.IsZero() {
		fmt.Fprintf(w, "The previous secret keeps working until %s.\n", k.PreviousExpiresAt.Format(time.RFC3339))
	}
	return nil
}

func keysList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s env.Settings
	fs := newFlagSet("keys list", stderr, &s)
	tenant := fs.String("tenant", "", "only keys of this tenant")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("keys list takes no arguments, got %q", pos[0])
	}
	st, err := s.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	list, err := st.ListKeys(ctx, store.ListOptions{Tenant: *tenant})
	if err != nil {
		return err
	}
	now := time.Now()
	views := make([]keys.View, len(list))
	for i, k := range list {
		views[i] = keys.ViewOf(k, now)
	}
	if *asJSON {
		return writeJSON(stdout, views)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tTENANT\tSTATUS\tMODELS\tCREATED\tEXPIRES")
	for _, v := range views {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.ID, v.Name, dash(v.Tenant), v.Status,
			strings.Join(v.Models, ","), v.CreatedAt.Format(time.RFC3339), timeOrDash(v.ExpiresAt))
	}
	return tw.Flush()
}

func keysShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s env.Settings
	fs := newFlagSet("keys show", stderr, &s)
	asJSON := fs.Bool("json", false, "print JSON")
	id, err := oneID(fs, args, "keys show")
	if err != nil {
		return err
	}
	st, err := s.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	k, err := st.GetKey(ctx, id)
	if err != nil {
		return wrapKeysErr(fmt.Errorf("key %s: %w", id, err))
	}
	history, err := st.KeyHistory(ctx, id)
	if err != nil {
		return err
	}
	v := keys.ViewOf(k, time.Now())
	if *asJSON {
		if history == nil {
			history = []record.AuditEvent{}
		}
		return writeJSON(stdout, struct {
			keys.View
			History []record.AuditEvent `json:"history"`
		}{v, history})
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "id:\t%s\nname:\t%s\ntenant:\t%s\nstatus:\t%s\nmodels:\t%s\n", v.ID, v.Name, dash(v.Tenant), v.Status, strings.Join(v.Models, ","))
	if v.Role != "" {
		fmt.Fprintf(tw, "role:\t%s\n", v.Role)
	}
	fmt.Fprintf(tw, "limits:\trpm %s, tpm %s, tokens/day %s, tokens/month %s\n",
		limit(v.Limits.RPM), limit(v.Limits.TPM), limit(v.Limits.TokensPerDay), limit(v.Limits.TokensPerMonth))
	fmt.Fprintf(tw, "usd:\t%s/day, %s/month\n", usdLimit(v.Limits.USDPerDay), usdLimit(v.Limits.USDPerMonth))
	fmt.Fprintf(tw, "created:\t%s\nexpires:\t%s\n", v.CreatedAt.Format(time.RFC3339), timeOrDash(v.ExpiresAt))
	if !v.RevokedAt.IsZero() {
		fmt.Fprintf(tw, "revoked:\t%s\n", v.RevokedAt.Format(time.RFC3339))
	}
	if !v.PreviousExpiresAt.IsZero() {
		fmt.Fprintf(tw, "previous secret valid until:\t%s\n", v.PreviousExpiresAt.Format(time.RFC3339))
	}
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

func keysRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s env.Settings
	fs := newFlagSet("keys revoke", stderr, &s)
	id, err := oneID(fs, args, "keys revoke")
	if err != nil {
		return err
	}
	m, closeFn, err := openManager(ctx, s, "aigate keys revoke")
	if err != nil {
		return err
	}
	defer closeFn()
	changed, err := m.Revoke(ctx, id)
	if err != nil {
		return wrapKeysErr(err)
	}
	if changed {
		fmt.Fprintf(stdout, "Key %s revoked.\n", id)
	} else {
		fmt.Fprintf(stdout, "Key %s was already revoked.\n", id)
	}
	return nil
}

func keysRotate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s env.Settings
	fs := newFlagSet("keys rotate", stderr, &s)
	graceFlag := fs.String("grace", "0s", "how long the old secret keeps working (90m, 24h, 7d)")
	asJSON := fs.Bool("json", false, "print JSON")
	id, err := oneID(fs, args, "keys rotate")
	if err != nil {
		return err
	}
	grace, err := parseDuration(*graceFlag)
	if err != nil {
		return usageErr("--grace: %v", err)
	}
	m, closeFn, err := openManager(ctx, s, "aigate keys rotate")
	if err != nil {
		return err
	}
	defer closeFn()
	issued, err := m.Rotate(ctx, id, grace)
	if err != nil {
		return wrapKeysErr(err)
	}
	return printIssued(stdout, issued, *asJSON, "rotated")
}

func oneID(fs *flag.FlagSet, args []string, cmd string) (string, error) {
	pos, err := parse(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 || pos[0] == "" {
		return "", usageErr("%s takes exactly one key id", cmd)
	}
	return pos[0], nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func timeOrDash(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Format(time.RFC3339)
}

func limit(n int64) string {
	if n == 0 {
		return "unlimited"
	}
	return fmt.Sprint(n)
}

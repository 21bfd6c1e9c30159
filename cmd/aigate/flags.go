package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/aigate/aigate/cmd/internal/env"
)

// newFlagSet returns a flag set that reports errors to the caller instead
// of exiting, with --data and --store on it.
func newFlagSet(name string, stderr io.Writer, s *env.Settings) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	*s = env.Read()
	fs.StringVar(&s.DataDir, "data", s.DataDir, "data directory for the embedded store (env AIGATE_DATA)")
	fs.StringVar(&s.StoreURL, "store", s.StoreURL, "store URL: sqlite:PATH, or dynamodb://TABLE_PREFIX?region=R&endpoint=URL (env AIGATE_STORE; default: sqlite in --data)")
	return fs
}

// parse parses flags placed before, between or after positional arguments
// ("keys show ID --json" works like "keys show --json ID") and returns the
// positionals.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, &exitError{code: 0, err: errSilent}
			}
			return nil, &exitError{code: 2, err: errSilent}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// parseDuration accepts Go durations ("90m", "720h") and days ("30d").
func parseDuration(v string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n < 0 || n > 100*365 {
			return 0, fmt.Errorf("%q is not a number of days", v)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (like 90m, 720h or 30d)", v)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", v)
	}
	return d, nil
}

// parseTimeOrDuration accepts an RFC 3339 time (returned as t) or a
// duration, Go-style or in days (returned as d, with t zero).
func parseTimeOrDuration(v string) (t time.Time, d time.Duration, err error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), 0, nil
	}
	if d, err = parseDuration(v); err != nil {
		return time.Time{}, 0, fmt.Errorf("%q is neither a duration (30d, 720h) nor an RFC 3339 time", v)
	}
	return time.Time{}, d, nil
}

// parseExpiry accepts a duration from now or an RFC 3339 time.
func parseExpiry(v string, now time.Time) (time.Time, error) {
	t, d, err := parseTimeOrDuration(v)
	switch {
	case err != nil:
		return time.Time{}, err
	case !t.IsZero():
		return t, nil
	case d == 0:
		return time.Time{}, errors.New("expiry must be in the future")
	}
	return now.Add(d).UTC(), nil
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

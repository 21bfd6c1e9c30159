package main

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aigate/aigate/duration"
	"github.com/aigate/aigate/server"
)

// The serve command's limit flags read durations as the config file does
// (package duration), take the place of the config's values, and name
// themselves when a value is bad.
func TestLimitFlagsParseDurationsAndOverrideTheConfig(t *testing.T) {
	parse := func(args ...string) (server.Limits, error) {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		flags := limitFlags(fs)
		if err := fs.Parse(args); err != nil {
			return server.Limits{}, err
		}
		cfg := server.Limits{IdleTimeout: duration.Duration(time.Minute)}
		return applyLimitFlags(fs, flags, cfg)
	}
	got, err := parse("--read-timeout", "30s", "--write-timeout=1m30s")
	if err != nil {
		t.Fatal(err)
	}
	want := server.DefaultLimits()
	want.ReadTimeout, want.WriteTimeout = duration.Duration(30*time.Second), duration.Duration(90*time.Second)
	want.IdleTimeout = duration.Duration(time.Minute) // the config's, no flag given
	if got != want {
		t.Errorf("limits %+v, want %+v", got, want)
	}
	for _, args := range [][]string{{"--read-timeout", "soon"}, {"--read-timeout", "30"}, {"--read-timeout", "0s"}} {
		if _, err := parse(args...); err == nil || !strings.Contains(err.Error(), "read-timeout") {
			t.Errorf("%v: %v, want an error naming read-timeout", args, err)
		}
	}
}

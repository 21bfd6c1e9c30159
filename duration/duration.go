// Package duration is the one duration type of aigate's configuration: the
// same text ("30s", "5m", "1h30m", Go's time.ParseDuration) in YAML config
// files, JSON environment variables and command-line flags, with a parse
// error reported wherever it is read. It imports nothing of aigate.
package duration

import (
	"fmt"
	"time"
)

// Duration is a time.Duration written as a Go duration string. It is a
// TextMarshaler/TextUnmarshaler (JSON, YAML through strictyaml) and a
// flag.Value, so every configuration source parses it the same way.
type Duration time.Duration

// Parse reads a Go duration ("30s", "5m"). It does not bound the value:
// each field's owner says what range it accepts (see NonNegative).
func Parse(s string) (Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration: %q is not a duration (like 30s or 5m)", s)
	}
	return Duration(d), nil
}

// NonNegative is an error naming field when d is below 0.
func (d Duration) NonNegative(field string) error {
	if d < 0 {
		return fmt.Errorf("%s: %v is not a duration ≥ 0", field, time.Duration(d))
	}
	return nil
}

// Std is d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String is d the way Parse reads it.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Set implements flag.Value.
func (d *Duration) Set(s string) error { return d.UnmarshalText([]byte(s)) }

package duration_test

import (
	"encoding/json"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/aigate/aigate/duration"
)

func TestEverySourceParsesTheSameText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"30s", 30 * time.Second, false},
		{"1h30m", 90 * time.Minute, false},
		{"0", 0, false},
		{"-1s", -time.Second, false}, // bounds belong to the field's owner
		{"soon", 0, true},
		{"30", 0, true}, // a bare number has no unit
		{"", 0, true},
	} {
		var fromJSON struct{ D duration.Duration }
		jsonErr := json.Unmarshal([]byte(`{"D":"`+tc.in+`"}`), &fromJSON)
		var fromFlag duration.Duration
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(new(strings.Builder))
		fs.Var(&fromFlag, "d", "")
		flagErr := fs.Parse([]string{"-d", tc.in})
		parsed, parseErr := duration.Parse(tc.in)
		for name, got := range map[string]struct {
			d   duration.Duration
			err error
		}{"json": {fromJSON.D, jsonErr}, "flag": {fromFlag, flagErr}, "parse": {parsed, parseErr}} {
			if (got.err != nil) != tc.err || (!tc.err && got.d.Std() != tc.want) {
				t.Errorf("%s %q = %v, %v; want %v, error %v", name, tc.in, got.d, got.err, tc.want, tc.err)
			}
		}
	}
}

func TestRoundTripsThroughText(t *testing.T) {
	b, err := json.Marshal(duration.Duration(90 * time.Second))
	if err != nil || string(b) != `"1m30s"` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var d duration.Duration
	if err := json.Unmarshal(b, &d); err != nil || d.Std() != 90*time.Second {
		t.Fatalf("Unmarshal = %v, %v", d, err)
	}
}

func TestNonNegativeNamesTheField(t *testing.T) {
	if err := duration.Duration(0).NonNegative("a.b"); err != nil {
		t.Fatalf("0: %v", err)
	}
	if err := duration.Duration(-time.Second).NonNegative("a.b"); err == nil || !strings.HasPrefix(err.Error(), "a.b: ") {
		t.Fatalf("-1s: %v", err)
	}
}

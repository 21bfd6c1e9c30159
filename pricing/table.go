package pricing

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/policy"
)

// Price is what one model costs, in micro-dollars per 1M tokens. Input is
// uncached input; CachedInput is a cache read; CacheWrite is input written
// to the cache (Anthropic's cache_creation_input_tokens). A zero
// CachedInput or CacheWrite is a price of $0 for those tokens, as written.
type Price struct {
	Input       Micros `json:"input"`
	Output      Micros `json:"output"`
	CachedInput Micros `json:"cached_input"`
	CacheWrite  Micros `json:"cache_write"`
}

// Entry is one row of a price table: a model glob (IAM wildcards, as in a
// key's models) and its Price, from Effective on (zero: always).
type Entry struct {
	Model     string
	Price     Price
	Effective time.Time
}

// Usage is what a request used, by how it is priced. Input excludes the
// cached and cache-write tokens (providers that report a prompt total
// including them are split by UsageOf).
type Usage struct {
	Input, Output, CacheRead, CacheWrite int64
}

// UsageOf splits a prompt total that includes cache reads and writes (as
// provider.Usage reports it) into the parts priced differently.
func UsageOf(prompt, completion, cacheRead, cacheWrite int64) Usage {
	return Usage{Input: max(prompt-cacheRead-cacheWrite, 0), Output: completion, CacheRead: cacheRead, CacheWrite: cacheWrite}
}

// Cost is what u costs at p, rounded up to the micro-dollar per part, or an
// error when it overflows.
func (p Price) Cost(u Usage) (Micros, error) {
	var total Micros
	for _, part := range []struct {
		tokens int64
		price  Micros
	}{{u.Input, p.Input}, {u.Output, p.Output}, {u.CacheRead, p.CachedInput}, {u.CacheWrite, p.CacheWrite}} {
		c, err := mulPerMillion(part.tokens, part.price)
		if err != nil {
			return 0, err
		}
		if total, err = Add(total, c); err != nil {
			return 0, err
		}
	}
	return total, nil
}

// Bound is the most a request can cost: input tokens at the dearer of
// the input and cache-write prices (a prompt may be written to the cache),
// output tokens at the output price.
func (p Price) Bound(inputTokens, outputTokens int64) (Micros, error) {
	in := max(p.Input, p.CacheWrite, p.CachedInput)
	return Price{Input: in, Output: p.Output}.Cost(Usage{Input: inputTokens, Output: outputTokens})
}

// Table finds a model's price: the configured entries first, then the
// built-in defaults. Among the matching entries of one source, the one with
// the latest Effective not after the time asked about wins; equal dates go
// to the first listed. The zero Table has only the defaults. Read-only
// once built: safe for concurrent use.
type Table struct {
	configured []Entry
	defaults   []Entry
	noDefaults bool
}

// NewTable builds a table from configured entries, which must have passed
// Check (ParseConfig does).
func NewTable(configured []Entry) *Table {
	return &Table{configured: configured, defaults: Defaults()}
}

// Lookup returns the price of model at t, and whether it has one.
func (t *Table) Lookup(model string, at time.Time) (Price, bool) {
	if t == nil {
		t = &Table{}
	}
	if p, ok := lookup(t.configured, model, at); ok {
		return p, true
	}
	if t.noDefaults {
		return Price{}, false
	}
	d := t.defaults
	if d == nil {
		d = Defaults()
	}
	return lookup(d, model, at)
}

func lookup(entries []Entry, model string, at time.Time) (Price, bool) {
	best := -1
	for i, e := range entries {
		if !policy.Match(e.Model, model) || e.Effective.After(at) {
			continue
		}
		if best < 0 || e.Effective.After(entries[best].Effective) {
			best = i
		}
	}
	if best < 0 {
		return Price{}, false
	}
	return entries[best].Price, true
}

// configEntry is an Entry as written in configuration: dollars per 1M
// tokens as numbers or strings, read exactly (see ParseUSD).
type configEntry struct {
	Model       string  `json:"model" yaml:"model"`
	Input       *amount `json:"input" yaml:"input"`
	Output      *amount `json:"output" yaml:"output"`
	CachedInput *amount `json:"cachedInput" yaml:"cachedInput"`
	CacheWrite  *amount `json:"cacheWrite" yaml:"cacheWrite"`
	Effective   string  `json:"effective" yaml:"effective"`
}

// amount is a dollar figure as its text, so that 0.1 is read as exactly
// ten cents rather than through a float.
type amount struct {
	text string
	// notScalar marks a list or mapping where a number was due: refused
	// by Entries, which names the field (a decoder error could not).
	notScalar bool
}

func (a *amount) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && (b[0] == '[' || b[0] == '{') {
		a.notScalar = true
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		a.text = s
		return nil
	}
	a.text = string(b)
	return nil
}

func (a *amount) UnmarshalYAML(n *yaml.Node) error {
	a.text, a.notScalar = n.Value, n.Kind != yaml.ScalarNode
	return nil
}

// Config is the `pricing:` list of a configuration file: YAML (strictyaml)
// or JSON (AIGATE_PRICING). Check turns it into entries.
type Config []configEntry

// ParseJSON reads the AIGATE_PRICING form: a JSON array of
// {model, input, output, cachedInput, cacheWrite, effective}.
func ParseJSON(data []byte) ([]Entry, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("pricing: %w", err)
	}
	return c.Entries()
}

// Entries checks every entry and names the first bad field
// ("pricing[2].cachedInput: …"). model, input and output are required;
// cachedInput and cacheWrite default to the input price (no discount
// assumed); effective is a date (2006-01-02) or an RFC 3339 time.
func (c Config) Entries() ([]Entry, error) {
	out := make([]Entry, 0, len(c))
	for i, ce := range c {
		at := fmt.Sprintf("pricing[%d]", i)
		if err := authz.CheckModelPattern(ce.Model); err != nil {
			return nil, fmt.Errorf("pricing: %s.model: %w", at, err)
		}
		e := Entry{Model: ce.Model}
		for _, f := range []struct {
			name     string
			a        *amount
			dst      *Micros
			required bool
		}{
			{"input", ce.Input, &e.Price.Input, true},
			{"output", ce.Output, &e.Price.Output, true},
			{"cachedInput", ce.CachedInput, &e.Price.CachedInput, false},
			{"cacheWrite", ce.CacheWrite, &e.Price.CacheWrite, false},
		} {
			if f.a == nil {
				if f.required {
					return nil, fmt.Errorf("pricing: %s.%s: required (USD per 1M tokens)", at, f.name)
				}
				*f.dst = e.Price.Input
				continue
			}
			if f.a.notScalar {
				return nil, fmt.Errorf("pricing: %s.%s: must be a number of dollars per 1M tokens", at, f.name)
			}
			m, err := ParseUSD(f.a.text)
			if err != nil {
				return nil, fmt.Errorf("pricing: %s.%s: %w", at, f.name, err)
			}
			*f.dst = m
		}
		if ce.Effective != "" {
			t, err := parseDate(ce.Effective)
			if err != nil {
				return nil, fmt.Errorf("pricing: %s.effective: %q is not a date (2006-01-02) or RFC 3339 time", at, ce.Effective)
			}
			e.Effective = t
		}
		out = append(out, e)
	}
	return out, nil
}

func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", strings.TrimSpace(s)); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, strings.TrimSpace(s))
}

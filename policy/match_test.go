package policy

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMatchFollowsIAMWildcards(t *testing.T) {
	tests := []struct {
		name       string
		pattern, s string
		want       bool
	}{
		{"empty pattern matches only empty string", "", "", true},
		{"empty pattern refuses text", "", "a", false},
		{"literal refuses empty string", "a", "", false},
		{"star alone matches empty string", "*", "", true},
		{"star alone matches anything", "*", "arn:aws:execute-api:x/y/z", true},
		{"double star is one star", "**", "abc", true},
		{"double star matches empty", "**", "", true},
		{"star spans slashes", "a/*/d", "a/b/c/d", true},
		{"star at end spans slashes", "prod/*", "prod/GET/v1/chat/completions", true},
		{"star may be empty between slashes", "a/*/d", "a//d", true},
		{"star does not invent missing slash", "a/*/d", "a/d", false},
		{"question mark is one character", "a?c", "abc", true},
		{"question mark is not zero characters", "a?c", "ac", false},
		{"question mark is not two characters", "a?c", "abbc", false},
		{"trailing question mark needs a character", "ab?", "ab", false},
		{"trailing question mark takes one", "ab?", "abc", true},
		{"question mark matches slash", "a?b", "a/b", true},
		{"question mark matches one multibyte letter", "gpt-?", "gpt-é", true},
		{"question mark matches one emoji", "?", "🙂", true},
		{"two question marks refuse one multibyte letter", "??", "é", false},
		{"literal is case-sensitive", "GET", "get", false},
		{"regex dot is literal", "a.c", "abc", false},
		{"regex dot matches itself", "a.c", "a.c", true},
		{"regex metacharacters are literal", "^(a+)$[]{}|\\", "^(a+)$[]{}|\\", true},
		{"plus is not repetition", "a+", "aa", false},
		{"pattern longer than string", "abcdef", "abc", false},
		{"pattern longer than string with star", "abc*def", "abcde", false},
		{"string longer than pattern", "abc", "abcdef", false},
		{"prefix glob", "claude-*", "claude-3-5-sonnet", true},
		{"prefix glob refuses other model", "claude-*", "gpt-4o", false},
		{"star needs backtracking", "*ab*ab", "xabyabab", true},
		{"star backtracking fails cleanly", "*ab*abc", "xabyabab", false},
		{"star then question mark", "*?", "", false},
		{"star then question mark with text", "*?", "x", true},
		{"middle star with suffix", "a*b*c", "a-b-b-c", true},
		{"suffix must match at end", "*.json", "a.json.bak", false},
		{"invalid utf-8 byte is one character", "?", "\xff", true},
		{"invalid utf-8 byte matches itself", "a\xffb", "a\xffb", true},
		{"invalid utf-8 byte is not a valid rune", "\xc3", "é", false},
		{"method ARN root", "arn:aws:execute-api:*:*:*/prod/GET/", "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Match(tt.pattern, tt.s); got != tt.want {
				t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
			}
			if got := refMatch(tt.pattern, tt.s, false); got != tt.want {
				t.Errorf("reference disagrees with the table for Match(%q, %q)", tt.pattern, tt.s)
			}
		})
	}
}

func TestMatchFoldIgnoresASCIICaseOnly(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"execute-api:invoke", "execute-api:Invoke", true},
		{"EXECUTE-API:INVOKE", "execute-api:Invoke", true},
		{"execute-api:inv*", "execute-api:Invoke", true},
		{"Execute-Api:*", "execute-api:Invoke", true},
		{"execute-api:Invok", "execute-api:Invoke", false},
		{"É", "é", false},       // IAM action names are ASCII; no Unicode folding.
		{"\x80", "\xe8", false}, // Invalid bytes are not "equal under folding" either.
	}
	for _, tt := range tests {
		if got := matchFold(tt.pattern, tt.s); got != tt.want {
			t.Errorf("matchFold(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

// TestMatchIsNotExponential runs the inputs that make a naive backtracking
// matcher take exponential time; the greedy matcher finishes at once.
func TestMatchIsNotExponential(t *testing.T) {
	s := strings.Repeat("a", 5000)
	pattern := strings.Repeat("*a", 50) + "b"
	if Match(pattern, s) {
		t.Fatal("matched a string without b")
	}
	if !Match(strings.Repeat("*a", 50), s) {
		t.Fatal("did not match")
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		Match("arn:aws:execute-api:us-east-1:123456789012:abc/prod/*/v1/*", "arn:aws:execute-api:us-east-1:123456789012:abc/prod/POST/v1/chat/completions")
		Match("gpt-?o*", "gpt-4o-mini-é")
	})
	if allocs != 0 {
		t.Fatalf("Match allocates %v times per call", allocs)
	}
}

// refMatch is the obviously correct definition of Match, by dynamic
// programming over characters (UTF-8 runes, an invalid byte being one
// character), for checking the fast matcher.
func refMatch(pattern, s string, fold bool) bool {
	pc, sc := chars(pattern), chars(s)
	// m[i][j]: pattern chars [i:] match string chars [j:].
	m := make([][]bool, len(pc)+1)
	for i := range m {
		m[i] = make([]bool, len(sc)+1)
	}
	m[len(pc)][len(sc)] = true
	for i := len(pc) - 1; i >= 0; i-- {
		for j := len(sc); j >= 0; j-- {
			switch pc[i] {
			case "*":
				m[i][j] = m[i+1][j] || (j < len(sc) && m[i][j+1])
			case "?":
				m[i][j] = j < len(sc) && m[i+1][j+1]
			default:
				eq := j < len(sc) && (pc[i] == sc[j] || fold && isASCII(pc[i]) && isASCII(sc[j]) && strings.EqualFold(pc[i], sc[j]))
				m[i][j] = eq && m[i+1][j+1]
			}
		}
	}
	return m[0][0]
}

func isASCII(c string) bool { return len(c) == 1 && c[0] < utf8.RuneSelf }

func chars(s string) []string {
	var out []string
	for len(s) > 0 {
		_, n := utf8.DecodeRuneInString(s)
		out = append(out, s[:n])
		s = s[n:]
	}
	return out
}

// regexpMatch is a second reference for valid UTF-8: Go's regexp, with '*'
// as ".*" and '?' as "." in single-line mode.
func regexpMatch(pattern, s string) bool {
	var b strings.Builder
	b.WriteString(`(?s)\A`)
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(`\z`)
	return regexp.MustCompile(b.String()).MatchString(s)
}

func FuzzMatch(f *testing.F) {
	f.Add("*", "")
	f.Add("a*b?c", "a/x/bzc")
	f.Add("*ab*ab", "xabyabab")
	f.Add("gpt-?o*", "gpt-4o-mini")
	f.Add("\xc3?", "\xc3\xa9")
	f.Add("arn:aws:execute-api:*:*:*/prod/*/v1/*", "arn:aws:execute-api:us-east-1:123456789012:abc/prod/POST/v1/chat")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		got := Match(pattern, s)
		gotFold := matchFold(pattern, s)
		// The references are quadratic; keep them to short inputs.
		if len(pattern) > 64 || len(s) > 64 {
			return
		}
		if want := refMatch(pattern, s, false); got != want {
			t.Fatalf("Match(%q, %q) = %v, reference says %v", pattern, s, got, want)
		}
		if want := refMatch(pattern, s, true); gotFold != want {
			t.Fatalf("matchFold(%q, %q) = %v, reference says %v", pattern, s, gotFold, want)
		}
		if utf8.ValidString(pattern) && utf8.ValidString(s) {
			if want := regexpMatch(pattern, s); got != want {
				t.Fatalf("Match(%q, %q) = %v, regexp says %v", pattern, s, got, want)
			}
		}
	})
}

func BenchmarkMatch(b *testing.B) {
	const (
		pattern = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/*/v1/*"
		arn     = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/POST/v1/chat/completions"
	)
	b.ReportAllocs()
	for b.Loop() {
		if !Match(pattern, arn) {
			b.Fatal("no match")
		}
	}
}

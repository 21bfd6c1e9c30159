package policy

import "unicode/utf8"

// Match reports whether s matches the IAM wildcard pattern: '*' matches any
// run of characters, including none and including '/', '?' matches exactly
// one character, and every other character matches itself, case-sensitively.
// There is no escape character, as in IAM.
//
// A character is a UTF-8 encoded rune; a byte that is not part of valid
// UTF-8 counts as one character of its own. ARNs are ASCII in practice, but
// Match is also used for model-name globs, where "?" must mean one letter.
//
// Match runs the greedy two-pointer algorithm: it remembers only the last
// '*' and retries from there, so it takes O(len(pattern)*len(s)) time in the
// worst case, never exponential time, and it never allocates. That matters
// because patterns come from configuration and strings from requests.
func Match(pattern, s string) bool {
	return match(pattern, s, false)
}

// matchFold is Match with ASCII letters compared case-insensitively (other
// characters exactly: action names are ASCII). IAM
// compares action names that way ("execute-api:invoke" grants Invoke) but
// resources case-sensitively.
func matchFold(pattern, s string) bool {
	return match(pattern, s, true)
}

func match(pattern, s string, fold bool) bool {
	p, i := 0, 0
	// star is the index in pattern of the last '*' seen, or -1; starI is
	// where in s the text that '*' currently swallows ends.
	star, starI := -1, 0
	for i < len(s) {
		if p < len(pattern) {
			switch pattern[p] {
			case '*':
				// Try the '*' as empty first; widen it on a later mismatch.
				star, starI = p, i
				p++
				continue
			case '?':
				i += charLen(s, i)
				p++
				continue
			default:
				c, d := pattern[p], s[i]
				if c < utf8.RuneSelf && d < utf8.RuneSelf {
					// ASCII, the common case, without decoding.
					if c == d || fold && lower(c) == lower(d) {
						p++
						i++
						continue
					}
				} else if pn, sn := charLen(pattern, p), charLen(s, i); pn == sn && pattern[p:p+pn] == s[i:i+sn] {
					p += pn
					i += sn
					continue
				}
			}
		}
		if star < 0 {
			return false
		}
		// Mismatch: let the last '*' swallow one more character and
		// retry the rest of the pattern after it. Backtracking to an
		// earlier '*' can never help, which is what keeps this linear-ish.
		starI += charLen(s, starI)
		i = starI
		p = star + 1
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// charLen is the length in bytes of the character at s[i]: one for ASCII and
// for a byte that does not start valid UTF-8.
func charLen(s string, i int) int {
	if s[i] < utf8.RuneSelf {
		return 1
	}
	_, n := utf8.DecodeRuneInString(s[i:])
	return n
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// Package pricing turns token usage into money: a price table (model glob →
// USD per 1M tokens for input, output, cache reads and cache writes) and
// the cost of a request in integer micro-dollars. It never uses floating
// point for money, and it knows nothing of stores or HTTP.
package pricing

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Micros is an amount of US dollars in millionths (micro-dollars): $1 is
// 1_000_000. Integer, so sums and comparisons are exact.
type Micros int64

// PerDollar is the number of Micros in one dollar.
const PerDollar Micros = 1_000_000

// ParseUSD reads a non-negative decimal dollar amount ("0.25", "3",
// "1.234567", "15.") exactly. More precision than a micro-dollar, a sign,
// an exponent or an amount beyond int64 micro-dollars is refused, never
// rounded: a price or budget is what its writer typed or an error.
func ParseUSD(s string) (Micros, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "$")
	if s == "" {
		return 0, errors.New("pricing: empty amount")
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" || !digits(whole) || !digits(frac) {
		return 0, fmt.Errorf("pricing: amount %q is not a plain decimal number of dollars", s)
	}
	if len(frac) > 6 {
		if strings.TrimRight(frac[6:], "0") != "" {
			return 0, fmt.Errorf("pricing: amount %q is finer than a micro-dollar (6 decimals)", s)
		}
		frac = frac[:6]
	}
	frac += strings.Repeat("0", 6-len(frac))
	r, ok := new(big.Int).SetString(whole+frac, 10)
	if whole+frac == "" || !ok {
		return 0, fmt.Errorf("pricing: amount %q is not a number", s)
	}
	if !r.IsInt64() {
		return 0, fmt.Errorf("pricing: amount %q is too large", s)
	}
	return Micros(r.Int64()), nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String formats m as dollars with the decimals it needs, at least two:
// "5.00", "0.000125", "12.50".
func (m Micros) String() string {
	sign := ""
	u := uint64(m)
	if m < 0 {
		sign, u = "-", uint64(-(m+1))+1
	}
	frac := strings.TrimRight(fmt.Sprintf("%06d", u%1_000_000), "0")
	for len(frac) < 2 {
		frac += "0"
	}
	return sign + strconv.FormatUint(u/1_000_000, 10) + "." + frac
}

// mulPerMillion is tokens × perMillion / 1e6, rounded up, or an error when
// the product does not fit: a cost never rounds down to nothing when tokens
// were used at a non-zero price.
func mulPerMillion(tokens int64, perMillion Micros) (Micros, error) {
	if tokens < 0 || perMillion < 0 {
		return 0, errors.New("pricing: negative tokens or price")
	}
	if tokens == 0 || perMillion == 0 {
		return 0, nil
	}
	p := new(big.Int).Mul(big.NewInt(tokens), big.NewInt(int64(perMillion)))
	p.Add(p, big.NewInt(999_999))
	p.Quo(p, big.NewInt(1_000_000))
	if !p.IsInt64() {
		return 0, fmt.Errorf("pricing: %d tokens at %s/1M overflow", tokens, perMillion)
	}
	return Micros(p.Int64()), nil
}

// Add returns a+b, or an error on overflow.
func Add(a, b Micros) (Micros, error) {
	if a < 0 || b < 0 || a > math.MaxInt64-b {
		return 0, fmt.Errorf("pricing: %s + %s overflows", a, b)
	}
	return a + b, nil
}

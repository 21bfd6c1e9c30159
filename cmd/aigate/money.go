package main

import (
	"encoding/json"

	"github.com/aigate/aigate/pricing"
)

// usdFlag is a dollar amount flag ("5", "0.25", "$12.50"), kept as
// micro-dollars: parsed exactly (pricing.ParseUSD), never through a float.
type usdFlag struct {
	micros int64
	set    bool
}

func (f *usdFlag) String() string {
	if f == nil || !f.set {
		return ""
	}
	return pricing.Micros(f.micros).String()
}

func (f *usdFlag) Set(v string) error {
	m, err := pricing.ParseUSD(v)
	if err != nil {
		return err
	}
	f.micros, f.set = int64(m), true
	return nil
}

// ptr is the flag's micro-dollars when it was given, else nil.
func (f *usdFlag) ptr() *int64 {
	if !f.set {
		return nil
	}
	v := f.micros
	return &v
}

// usd is a micro-dollar amount as a JSON number in dollars ("0.021"),
// written from the integer, so no float ever rounds it.
func usd(micros int64) json.Number { return json.Number(pricing.Micros(micros).String()) }

// usdLimit shows a USD budget, or "unlimited".
func usdLimit(micros int64) string {
	if micros == 0 {
		return "unlimited"
	}
	return "$" + pricing.Micros(micros).String()
}

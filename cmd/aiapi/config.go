package main

import (
	"fmt"
	"os"

	"github.com/aigate/aigate/aiapi"
	"github.com/aigate/aigate/pricing"
)

// Environment variables read by configFromEnv.
const (
	// EnvConfig holds an aiapi.Config as YAML (or JSON).
	EnvConfig = "AIGATE_AIAPI_CONFIG"
	// EnvConfigFile names a file holding an aiapi.Config as YAML.
	EnvConfigFile = "AIGATE_AIAPI_CONFIG_FILE"
	// EnvPricing holds the price table as JSON: a list of {model, input,
	// output, cachedInput, cacheWrite, effective}, USD per 1M tokens,
	// which takes precedence over the built-in prices.
	EnvPricing = "AIGATE_PRICING"
)

// configFromEnv is the Lambda's AI API configuration: the Config in
// AIGATE_AIAPI_CONFIG (YAML or JSON) or in the file AIGATE_AIAPI_CONFIG_FILE,
// else aiapi.DefaultConfig; AIGATE_PRICING's prices; then openai's
// catch-all upstream (env.Settings.OpenAI: OPENAI_BASE_URL,
// OPENAI_API_KEY) unless the configuration has a provider "openai".
func configFromEnv(openai aiapi.OpenAIUpstream) (aiapi.Config, error) {
	cfg := aiapi.DefaultConfig()
	inline, file := os.Getenv(EnvConfig), os.Getenv(EnvConfigFile)
	switch {
	case inline != "" && file != "":
		return aiapi.Config{}, fmt.Errorf("aiapi: set %s or %s, not both", EnvConfig, EnvConfigFile)
	case file != "":
		data, err := os.ReadFile(file)
		if err != nil {
			return aiapi.Config{}, fmt.Errorf("aiapi: %s: %w", EnvConfigFile, err)
		}
		inline = string(data)
		fallthrough
	case inline != "":
		c, err := aiapi.ParseConfig([]byte(inline))
		if err != nil {
			return aiapi.Config{}, err
		}
		cfg = c
	}
	if v := os.Getenv(EnvPricing); v != "" {
		entries, err := pricing.ParseJSON([]byte(v))
		if err != nil {
			return aiapi.Config{}, fmt.Errorf("aiapi: %s: %w", EnvPricing, err)
		}
		cfg.Pricing = pricing.NewTable(entries)
	}
	return cfg.WithOpenAI(openai), nil
}

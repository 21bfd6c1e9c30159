package stack

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// configKeys are the stack configuration keys LoadConfig reads, without the
// project namespace. Any other key in the namespace is refused as a typo.
var configKeys = []string{
	"name", "tablePrefix", "stageName", "hashKey",
	"authorizerType", "identitySources", "tokenValidationExpression", "authorizerTtl",
	"keyCacheTtl", "grantedRoutes", "jwtConfig", "oidcIssuer", "oidcAudiences", "oidcDefaultModels",
	"authorizerMemory", "authorizerTimeout", "authorizerArtifact",
	"models", "providers", "upstreamKeys", "bedrockModelArns", "responseStreaming",
	"upstreamTimeout", "defaultMaxTokens", "pricing", "aiapiMemory", "aiapiTimeout", "aiapiArtifact",
	"apiRoutes", "throttleRateLimit", "throttleBurstLimit", "logRetentionDays", "executionLogLevel",
	"manageApiGatewayAccount", "usagePlans", "httpApi", "deletionProtection", "tags",
}

// secretKeys must be set with `pulumi config set --secret`.
var secretKeys = []string{"hashKey", "upstreamKeys"}

// LoadConfig reads the stack configuration (keys in the project's
// namespace, e.g. aigate:stageName) over Defaults, and validates it. It
// refuses unknown keys, secrets stored in plain text, and malformed values,
// naming the key.
func LoadConfig(ctx *pulumi.Context) (Config, error) {
	r := reader{ctx: ctx, ns: ctx.Project() + ":"}
	if err := r.refuseUnknownKeys(); err != nil {
		return Config{}, err
	}
	c := Defaults(ctx.Stack())
	r.str("name", &c.Name)
	c.TablePrefix = c.Name + "-"
	r.str("tablePrefix", &c.TablePrefix)
	r.str("stageName", &c.StageName)
	r.str("hashKey", &c.HashKey)

	a := &c.Authorizer
	r.str("authorizerType", &a.Type)
	a.Type = strings.ToUpper(a.Type)
	r.list("identitySources", &a.IdentitySources)
	if a.Type == "TOKEN" {
		if len(a.IdentitySources) == 0 {
			a.IdentitySources = []string{DefaultIdentitySource}
		}
		a.ValidationExpression = DefaultTokenValidationExpression
	}
	r.str("tokenValidationExpression", &a.ValidationExpression)
	if a.ValidationExpression == "none" {
		a.ValidationExpression = ""
	}
	r.integer("authorizerTtl", &a.ResultTTL)
	r.str("keyCacheTtl", &a.KeyCacheTTL)
	r.list("grantedRoutes", &a.GrantedRoutes)
	r.integer("authorizerMemory", &a.MemoryMB)
	r.integer("authorizerTimeout", &a.TimeoutSeconds)
	r.str("authorizerArtifact", &a.Artifact)
	a.JWTConfig = r.jwtConfig()

	ai := &c.AIAPI
	r.object("models", &ai.Models)
	r.object("providers", &ai.Providers)
	r.object("upstreamKeys", &ai.UpstreamKeys)
	r.list("bedrockModelArns", &ai.BedrockModelARNs)
	r.boolean("responseStreaming", &ai.ResponseStreaming)
	r.str("upstreamTimeout", &ai.UpstreamTimeout)
	r.int64("defaultMaxTokens", &ai.DefaultMaxTokens)
	if v, ok := r.raw("pricing"); ok {
		p, err := compactPricing(v)
		if err != nil {
			r.fail("pricing", "%v", err)
		}
		ai.Pricing = p
	}
	r.integer("aiapiMemory", &ai.MemoryMB)
	r.integer("aiapiTimeout", &ai.TimeoutSeconds)
	r.str("aiapiArtifact", &ai.Artifact)

	var routes []string
	if r.list("apiRoutes", &routes) {
		c.Routes = nil
		for _, s := range routes {
			rt, err := ParseRoute(s)
			if err != nil {
				r.errs = append(r.errs, err)
			}
			c.Routes = append(c.Routes, rt)
		}
	}
	r.float("throttleRateLimit", &c.ThrottleRateLimit)
	r.integer("throttleBurstLimit", &c.ThrottleBurstLimit)
	r.integer("logRetentionDays", &c.LogRetentionDays)
	r.str("executionLogLevel", &c.ExecutionLogLevel)
	c.ExecutionLogLevel = strings.ToUpper(c.ExecutionLogLevel)
	r.boolean("manageApiGatewayAccount", &c.ManageAPIGatewayAccount)
	var plans []usagePlanConfig
	r.object("usagePlans", &plans)
	for _, p := range plans {
		c.UsagePlans = append(c.UsagePlans, UsagePlan{Name: p.Name, RateLimit: float64(p.RateLimit),
			BurstLimit: int(p.BurstLimit), QuotaLimit: int(p.QuotaLimit), QuotaPeriod: p.QuotaPeriod, APIKeys: p.APIKeys})
	}
	r.boolean("httpApi", &c.HTTPAPI)
	r.boolean("deletionProtection", &c.DeletionProtection)
	r.object("tags", &c.Tags)

	for _, k := range secretKeys {
		if _, ok := ctx.GetConfig(r.ns + k); ok && !ctx.IsConfigSecret(r.ns+k) {
			r.errs = append(r.errs, fmt.Errorf("stack: %s%s is stored in plain text: set it with `pulumi config set --secret`", r.ns, k))
		}
	}
	if err := errors.Join(r.errs...); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

// usagePlanConfig is UsagePlan as the stack configuration holds it: `pulumi
// config set --path` may store its numbers as strings.
type usagePlanConfig struct {
	Name        string   `json:"name"`
	RateLimit   number   `json:"rateLimit"`
	BurstLimit  number   `json:"burstLimit"`
	QuotaLimit  number   `json:"quotaLimit"`
	QuotaPeriod string   `json:"quotaPeriod"`
	APIKeys     []string `json:"apiKeys"`
}

// number is a JSON number, or a string holding one.
type number float64

func (n *number) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(strings.Trim(string(b), `"`), 64)
	if err != nil {
		return fmt.Errorf("%s is not a number", b)
	}
	*n = number(f)
	return nil
}

// reader reads typed values, collecting every error, each naming its key.
type reader struct {
	ctx  *pulumi.Context
	ns   string
	errs []error
}

func (r *reader) raw(key string) (string, bool) {
	v, ok := r.ctx.GetConfig(r.ns + key)
	return v, ok && v != ""
}

func (r *reader) fail(key string, format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf("stack: %s%s: %s", r.ns, key, fmt.Sprintf(format, args...)))
}

func (r *reader) str(key string, dst *string) {
	if v, ok := r.raw(key); ok {
		*dst = v
	}
}

func (r *reader) integer(key string, dst *int) {
	if v, ok := r.raw(key); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			r.fail(key, "%q is not an integer", v)
			return
		}
		*dst = n
	}
}

func (r *reader) int64(key string, dst *int64) {
	if v, ok := r.raw(key); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			r.fail(key, "%q is not an integer", v)
			return
		}
		*dst = n
	}
}

func (r *reader) float(key string, dst *float64) {
	if v, ok := r.raw(key); ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			r.fail(key, "%q is not a number", v)
			return
		}
		*dst = f
	}
}

func (r *reader) boolean(key string, dst *bool) {
	if v, ok := r.raw(key); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			r.fail(key, "%q is not true or false", v)
			return
		}
		*dst = b
	}
}

// list reads a JSON array of strings (pulumi config set --path 'k[0]' v)
// or a comma-separated string. It reports whether the key was set.
func (r *reader) list(key string, dst *[]string) bool {
	v, ok := r.raw(key)
	if !ok {
		return false
	}
	if strings.HasPrefix(strings.TrimSpace(v), "[") {
		var out []string
		if err := strictJSON(v, &out); err != nil {
			r.fail(key, "want a list of strings: %v", err)
			return true
		}
		*dst = out
		return true
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	*dst = out
	return true
}

// object decodes a structured value strictly: an unknown field is an
// error, not a setting silently ignored.
func (r *reader) object(key string, dst any) {
	if v, ok := r.raw(key); ok {
		if err := strictJSON(v, dst); err != nil {
			r.fail(key, "%v", err)
		}
	}
}

// jwtConfig returns AIGATE_JWT_CONFIG: jwtConfig as given, or the one
// issuer that the oidc* shorthand keys describe.
func (r *reader) jwtConfig() string {
	full, hasFull := r.raw("jwtConfig")
	issuer, hasIssuer := r.raw("oidcIssuer")
	var audiences, models []string
	hasAud := r.list("oidcAudiences", &audiences)
	hasModels := r.list("oidcDefaultModels", &models)
	switch {
	case hasFull && (hasIssuer || hasAud || hasModels):
		r.fail("jwtConfig", "set jwtConfig or the oidcIssuer/oidcAudiences/oidcDefaultModels shorthand, not both")
		return ""
	case hasFull:
		// Compact, so that it takes little of Lambda's 4 KB environment.
		var b bytes.Buffer
		if err := json.Compact(&b, []byte(full)); err != nil {
			r.fail("jwtConfig", "not JSON: %v", err)
			return ""
		}
		return b.String()
	case hasIssuer:
		if len(audiences) == 0 {
			r.fail("oidcAudiences", "required with oidcIssuer: a verifier that accepted any audience would accept tokens minted for other applications")
			return ""
		}
		type claims struct {
			DefaultModels []string `json:"defaultModels,omitempty"`
		}
		type issuerConfig struct {
			Issuer    string   `json:"issuer"`
			Audiences []string `json:"audiences"`
			Claims    *claims  `json:"claims,omitempty"`
		}
		ic := issuerConfig{Issuer: issuer, Audiences: audiences}
		if len(models) > 0 {
			ic.Claims = &claims{DefaultModels: models}
		}
		b, _ := json.Marshal(struct {
			Issuers []issuerConfig `json:"issuers"`
		}{[]issuerConfig{ic}})
		return string(b)
	case hasAud || hasModels:
		r.fail("oidcIssuer", "required with oidcAudiences and oidcDefaultModels")
	}
	return ""
}

// refuseUnknownKeys reads the whole configuration from the environment the
// Pulumi CLI (or a test) passes to the program, since the SDK lists no keys.
func (r *reader) refuseUnknownKeys() error {
	raw := os.Getenv(pulumi.EnvConfig)
	if raw == "" {
		return nil
	}
	var all map[string]any
	if err := json.Unmarshal([]byte(raw), &all); err != nil {
		return fmt.Errorf("stack: %s: %w", pulumi.EnvConfig, err)
	}
	var unknown []string
	for k := range all {
		if name, ok := strings.CutPrefix(k, r.ns); ok && !slices.Contains(configKeys, name) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("stack: unknown configuration keys %s (deploy/aws/README.md lists the keys)", strings.Join(unknown, ", "))
	}
	return nil
}

func strictJSON(s string, dst any) error {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

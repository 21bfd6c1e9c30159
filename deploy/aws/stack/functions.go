package stack

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	awslambda "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Function is one Lambda with what belongs to it alone.
type Function struct {
	Function *awslambda.Function
	Role     *iam.Role
	// Policy is the role's only policy: least privilege, inline.
	Policy *iam.RolePolicy
	Logs   *cloudwatch.LogGroup
}

// Lambda runtime settings shared by both functions.
const (
	lambdaRuntime = "provided.al2023"
	lambdaArch    = "arm64"
	lambdaHandler = "bootstrap"
)

// account is where the stack is deployed.
type account struct {
	Partition, Region, ID string
}

func (c Config) authorizerName() string { return c.Name + "-authorizer" }
func (c Config) aiapiName() string      { return c.Name + "-aiapi" }

// storeURL is AIGATE_STORE: the region comes from AWS_REGION in the Lambda.
func (c Config) storeURL() string { return "dynamodb://" + c.TablePrefix }

// newFunction creates the log group, role, policy and function called
// name. The log group exists before the function, so Lambda never creates
// one without retention.
func newFunction(ctx *pulumi.Context, c Config, logical, name, artifact, description string,
	memory, timeout int, env pulumi.StringMap, grants func(logs pulumi.StringOutput) []grant) (*Function, error) {
	logs, err := cloudwatch.NewLogGroup(ctx, logical, &cloudwatch.LogGroupArgs{
		Name:            pulumi.String("/aws/lambda/" + name),
		RetentionInDays: pulumi.Int(c.LogRetentionDays),
		Tags:            pulumi.ToStringMap(c.Tags),
	})
	if err != nil {
		return nil, err
	}
	role, err := iam.NewRole(ctx, logical, &iam.RoleArgs{
		Name:             pulumi.String(name),
		Description:      pulumi.String("Execution role of the " + name + " Lambda"),
		AssumeRolePolicy: pulumi.String(assumeRolePolicy("lambda.amazonaws.com")),
		Tags:             pulumi.ToStringMap(c.Tags),
	})
	if err != nil {
		return nil, err
	}
	policy, err := iam.NewRolePolicy(ctx, logical, &iam.RolePolicyArgs{
		Name:   pulumi.String(name),
		Role:   role.ID(),
		Policy: policyJSON(grants(logs.Arn)),
	})
	if err != nil {
		return nil, err
	}
	fn, err := awslambda.NewFunction(ctx, logical, &awslambda.FunctionArgs{
		Name:          pulumi.String(name),
		Description:   pulumi.String(description),
		Runtime:       pulumi.String(lambdaRuntime),
		Architectures: pulumi.StringArray{pulumi.String(lambdaArch)},
		Handler:       pulumi.String(lambdaHandler),
		Code:          pulumi.NewFileArchive(artifact),
		Role:          role.Arn,
		MemorySize:    pulumi.Int(memory),
		Timeout:       pulumi.Int(timeout),
		Environment:   awslambda.FunctionEnvironmentArgs{Variables: env},
		LoggingConfig: awslambda.FunctionLoggingConfigArgs{
			LogFormat: pulumi.String("Text"), // the binaries log JSON lines themselves
			LogGroup:  logs.Name,
		},
		Tags: pulumi.ToStringMap(c.Tags),
		// The policy first: a function whose first invocation finds its
		// role without permissions fails it.
	}, pulumi.DependsOn([]pulumi.Resource{policy}))
	if err != nil {
		return nil, err
	}
	return &Function{Function: fn, Role: role, Policy: policy, Logs: logs}, nil
}

// logGrant lets a function write to its own log group, and to no other.
func logGrant(logs pulumi.StringOutput) grant {
	return grant{sid: "OwnLogGroup", actions: []string{"logs:CreateLogStream", "logs:PutLogEvents"},
		resources: []pulumi.StringInput{suffixed(logs, ":*")}}
}

// newAuthorizerFunction: it reads keys, and records a key's expiry (a
// PutItem on keys and on key_events) the first time it sees it expired.
func newAuthorizerFunction(ctx *pulumi.Context, c Config, t Tables) (*Function, error) {
	a := c.Authorizer
	env := c.authorizerEnv()
	grants := func(logs pulumi.StringOutput) []grant {
		return []grant{
			{sid: "ReadKeysRecordExpiry", actions: []string{"dynamodb:GetItem", "dynamodb:PutItem"},
				resources: []pulumi.StringInput{t.Keys.Arn}},
			{sid: "AppendKeyEvents", actions: []string{"dynamodb:PutItem"},
				resources: []pulumi.StringInput{t.KeyEvents.Arn}},
			logGrant(logs),
		}
	}
	return newFunction(ctx, c, "authorizer", c.authorizerName(), a.Artifact,
		"aigate API Gateway authorizer", a.MemoryMB, a.TimeoutSeconds, env.inputs(), grants)
}

// lambdaEnv is a function's environment; secret variables are stored as
// Pulumi secrets.
type lambdaEnv struct {
	vars   map[string]string
	secret map[string]bool
}

func (e lambdaEnv) inputs() pulumi.StringMap {
	m := pulumi.StringMap{}
	for k, v := range e.vars {
		if e.secret[k] {
			m[k] = pulumi.ToSecret(pulumi.String(v)).(pulumi.StringOutput)
		} else {
			m[k] = pulumi.String(v)
		}
	}
	return m
}

// size is what Lambda counts against its 4 KB limit.
func (e lambdaEnv) size() int {
	n := 0
	for k, v := range e.vars {
		n += len(k) + len(v)
	}
	return n
}

func (c Config) authorizerEnv() lambdaEnv {
	a := c.Authorizer
	e := lambdaEnv{vars: map[string]string{
		"AIGATE_STORE":         c.storeURL(),
		"AIGATE_HASH_KEY":      c.HashKey,
		"AIGATE_KEY_CACHE_TTL": a.KeyCacheTTL,
	}, secret: map[string]bool{"AIGATE_HASH_KEY": true}}
	if len(a.GrantedRoutes) > 0 {
		e.vars["AIGATE_ROUTES"] = strings.Join(a.GrantedRoutes, ",")
	}
	if c.HTTPAPI {
		// The HTTP API's authorizer is configured for simple responses.
		e.vars["AIGATE_HTTP_API_RESPONSE"] = "simple"
	}
	if a.JWTConfig != "" {
		e.vars["AIGATE_JWT_CONFIG"] = a.JWTConfig
	}
	return e
}

func (c Config) aiapiEnv() (lambdaEnv, error) {
	ai := c.AIAPI
	cfgJSON, err := aiapiConfigJSON(ai)
	if err != nil {
		return lambdaEnv{}, err
	}
	streaming := "off"
	if ai.ResponseStreaming {
		streaming = "on"
	}
	e := lambdaEnv{vars: map[string]string{
		"AIGATE_STORE":              c.storeURL(),
		"AIGATE_RESPONSE_STREAMING": streaming,
	}, secret: map[string]bool{}}
	if cfgJSON != "" {
		e.vars["AIGATE_AIAPI_CONFIG"] = cfgJSON
	}
	if ai.Pricing != "" {
		e.vars["AIGATE_PRICING"] = ai.Pricing
	}
	for name, key := range ai.UpstreamKeys {
		e.vars[upstreamKeyEnv(name)] = key
		e.secret[upstreamKeyEnv(name)] = true
	}
	return e, nil
}

// newAIAPIFunction: it reads keys' status, counts usage, keeps
// reservations, appends to the ledger, and may call the configured Bedrock
// models only.
func newAIAPIFunction(ctx *pulumi.Context, c Config, acct account, t Tables) (*Function, error) {
	ai := c.AIAPI
	env, err := c.aiapiEnv()
	if err != nil {
		return nil, err
	}
	models := bedrockModelARNs(ai, acct)
	grants := func(logs pulumi.StringOutput) []grant {
		g := []grant{
			// GetItem on keys: a key's status, and a tenant's limits
			// (tenant items live in the keys table, store/dynamodb).
			{sid: "ReadKeyStatus", actions: []string{"dynamodb:GetItem"},
				resources: []pulumi.StringInput{t.Keys.Arn}},
			// The window items hold requests, tokens and dollars alike,
			// the principal's and its tenant's ("tenant:NAME"); GetItem
			// re-reads a counter after a denial where DynamoDB returned
			// no old values.
			{sid: "CountUsage", actions: []string{"dynamodb:GetItem", "dynamodb:UpdateItem"},
				resources: []pulumi.StringInput{t.Usage.Arn}},
			// GetItem: after a put whose answer was lost, the store reads
			// the reservation back to learn whether it was written.
			{sid: "KeepReservations", actions: []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"},
				resources: []pulumi.StringInput{t.Reservations.Arn}},
			{sid: "FindExpiredReservations", actions: []string{"dynamodb:Query"},
				resources: []pulumi.StringInput{suffixed(t.Reservations.Arn, "/index/"+indexReservationsByExpiry)}},
			// Query: a settlement whose reservation lapsed reads the
			// principal's ledger first, so a request is recorded once.
			{sid: "AppendLedger", actions: []string{"dynamodb:PutItem", "dynamodb:Query"},
				resources: []pulumi.StringInput{t.Ledger.Arn}},
		}
		if len(models) > 0 {
			var rs []pulumi.StringInput
			for _, m := range models {
				rs = append(rs, pulumi.String(m))
			}
			g = append(g, grant{sid: "InvokeConfiguredBedrockModels",
				actions:   []string{"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"},
				resources: rs})
		}
		return append(g, logGrant(logs))
	}
	return newFunction(ctx, c, "aiapi", c.aiapiName(), ai.Artifact,
		"aigate AI API (OpenAI-compatible)", ai.MemoryMB, ai.TimeoutSeconds, env.inputs(), grants)
}

// aiapiConfigJSON is AIGATE_AIAPI_CONFIG (aiapi.Config's YAML fields, as
// JSON, which YAML reads). Empty when nothing is configured: the Lambda
// then serves the echo test model.
func aiapiConfigJSON(ai AIAPIConfig) (string, error) {
	type providerConfig struct {
		Provider
		APIKeyEnv string `json:"apiKeyEnv,omitempty"`
	}
	out := struct {
		Models           []ModelRoute              `json:"models,omitempty"`
		Providers        map[string]providerConfig `json:"providers,omitempty"`
		DefaultMaxTokens int64                     `json:"defaultMaxTokens,omitempty"`
		UpstreamTimeout  string                    `json:"upstreamTimeout,omitempty"`
	}{Models: ai.Models, DefaultMaxTokens: ai.DefaultMaxTokens, UpstreamTimeout: ai.UpstreamTimeout}
	for name, p := range ai.Providers {
		if out.Providers == nil {
			out.Providers = map[string]providerConfig{}
		}
		pc := providerConfig{Provider: p}
		if _, ok := ai.UpstreamKeys[name]; ok {
			pc.APIKeyEnv = upstreamKeyEnv(name)
		}
		out.Providers[name] = pc
	}
	if out.Models == nil && out.Providers == nil && out.DefaultMaxTokens == 0 && out.UpstreamTimeout == "" {
		return "", nil
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", fmt.Errorf("stack: AI API configuration: %w", err)
	}
	return string(b), nil
}

// crossRegionProfilePrefixes start the ids of Bedrock's cross-region
// inference profiles ("us.anthropic.claude-…").
var crossRegionProfilePrefixes = []string{"us.", "us-gov.", "eu.", "apac.", "jp.", "au.", "ca.", "global."}

// bedrockModelARNs are the ARNs the AI API may invoke: for every route to a
// bedrock provider, the model it names (UpstreamModel, else the route's
// name, which may be a glob), plus BedrockModelARNs. A cross-region
// inference profile needs the profile and the model in every region the
// profile may route to.
func bedrockModelARNs(ai AIAPIConfig, acct account) []string {
	seen := map[string]bool{}
	var arns []string
	add := func(a string) {
		if !seen[a] {
			seen[a] = true
			arns = append(arns, a)
		}
	}
	for _, m := range ai.Models {
		p, ok := ai.Providers[m.Provider]
		if !ok || p.Type != "bedrock" {
			continue
		}
		id := m.UpstreamModel
		if id == "" {
			id = m.Name
		}
		region := p.Region
		if region == "" {
			region = acct.Region
		}
		switch {
		case strings.HasPrefix(id, "arn:"):
			add(id)
		case hasAnyPrefix(id, crossRegionProfilePrefixes):
			_, model, _ := strings.Cut(id, ".")
			add(fmt.Sprintf("arn:%s:bedrock:%s:%s:inference-profile/%s", acct.Partition, region, acct.ID, id))
			add(fmt.Sprintf("arn:%s:bedrock:*::foundation-model/%s", acct.Partition, model))
		default:
			add(fmt.Sprintf("arn:%s:bedrock:%s::foundation-model/%s", acct.Partition, region, id))
		}
	}
	for _, a := range ai.BedrockModelARNs {
		add(a)
	}
	return arns
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

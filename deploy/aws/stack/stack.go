// Package stack is aigate's AWS deployment as a Pulumi program: the
// DynamoDB tables of store/dynamodb, the authorizer and AI API Lambdas with
// least-privilege roles, and a REST API (optionally an HTTP API too) whose
// every /v1 method is authorized by the Lambda authorizer and proxied to
// the AI API. New builds it all from a typed Config; main only loads the
// configuration and exports.
//
// It never imports the aigate module (the Pulumi SDK stays out of the
// Lambdas' dependencies), and registers no resource before its inputs
// (configuration, artifacts) have been checked.
package stack

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Stack is every resource New created, for main to export and tests to read.
type Stack struct {
	Config     Config
	Tables     Tables
	Authorizer *Function
	AIAPI      *Function
	Rest       *RestAPI
	// HTTP is nil unless Config.HTTPAPI.
	HTTP *HTTPAPI
}

// New creates the stack. It checks the configuration and both Lambda
// artifacts first, and fails before registering any resource if either is
// wrong: a missing bootstrap is reported by name, with the command that
// builds it.
func New(ctx *pulumi.Context, c Config) (*Stack, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := errors.Join(CheckArtifact(c.Authorizer.Artifact), CheckArtifact(c.AIAPI.Artifact)); err != nil {
		return nil, err
	}
	aiEnv, err := c.aiapiEnv()
	if err != nil {
		return nil, err
	}
	for name, size := range map[string]int{c.authorizerName(): c.authorizerEnv().size(), c.aiapiName(): aiEnv.size()} {
		if size > lambdaEnvLimit {
			return nil, fmt.Errorf("stack: the environment of %s would be %d bytes, over Lambda's 4 KB limit (jwtConfig with staticJwks? models? pricing?)", name, size)
		}
	}
	acct, err := lookupAccount(ctx)
	if err != nil {
		return nil, err
	}

	s := &Stack{Config: c}
	if s.Tables, err = newTables(ctx, c); err != nil {
		return nil, err
	}
	if s.Authorizer, err = newAuthorizerFunction(ctx, c, s.Tables); err != nil {
		return nil, err
	}
	if s.AIAPI, err = newAIAPIFunction(ctx, c, acct, s.Tables); err != nil {
		return nil, err
	}
	if s.Rest, err = newRestAPI(ctx, c, acct, s.Authorizer, s.AIAPI); err != nil {
		return nil, err
	}
	if c.HTTPAPI {
		if s.HTTP, err = newHTTPAPI(ctx, c, s.Authorizer, s.AIAPI); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// lookupAccount asks AWS (through the provider) where the stack goes.
func lookupAccount(ctx *pulumi.Context) (account, error) {
	region, err := aws.GetRegion(ctx, nil)
	if err != nil {
		return account{}, fmt.Errorf("stack: region: %w", err)
	}
	id, err := aws.GetCallerIdentity(ctx, nil)
	if err != nil {
		return account{}, fmt.Errorf("stack: caller identity: %w", err)
	}
	// arn:PARTITION:iam::ACCOUNT:…: aws, aws-cn or aws-us-gov.
	parts := strings.SplitN(id.Arn, ":", 3)
	if len(parts) < 3 || parts[0] != "arn" || parts[1] == "" {
		return account{}, fmt.Errorf("stack: caller identity ARN %q has no partition", id.Arn)
	}
	return account{Partition: parts[1], Region: region.Name, ID: id.AccountId}, nil
}

// Export publishes what a user of the deployment needs: where to call it,
// and what to point `aigate keys` at.
func (s *Stack) Export(ctx *pulumi.Context) {
	c := s.Config
	ctx.Export("invokeUrl", s.Rest.Stage.InvokeUrl)
	ctx.Export("openaiBaseUrl", pulumi.Sprintf("%s/v1", s.Rest.Stage.InvokeUrl))
	ctx.Export("restApiId", s.Rest.API.ID())
	ctx.Export("stageName", pulumi.String(c.StageName))
	ctx.Export("storeUrl", pulumi.Sprintf("dynamodb://%s?region=%s", c.TablePrefix, s.Tables.Keys.Arn.ApplyT(regionOfARN).(pulumi.StringOutput)))
	ctx.Export("tables", pulumi.StringMap{
		"keys": s.Tables.Keys.Name, "keyEvents": s.Tables.KeyEvents.Name, "usage": s.Tables.Usage.Name,
		"reservations": s.Tables.Reservations.Name, "ledger": s.Tables.Ledger.Name,
	})
	ctx.Export("functions", pulumi.StringMap{
		"authorizer": s.Authorizer.Function.Name, "aiapi": s.AIAPI.Function.Name,
	})
	if len(s.Rest.APIKeys) > 0 {
		ids := pulumi.StringMap{}
		for name, k := range s.Rest.APIKeys {
			ids[name] = k.ID().ToStringOutput()
		}
		ctx.Export("apiKeyIds", ids)
	}
	if s.HTTP != nil {
		ctx.Export("httpApiUrl", s.HTTP.Stage.InvokeUrl)
	}
}

// regionOfARN: arn:aws:dynamodb:REGION:ACCOUNT:table/NAME.
func regionOfARN(arn string) string {
	parts := strings.SplitN(arn, ":", 5)
	if len(parts) < 4 {
		return ""
	}
	return parts[3]
}

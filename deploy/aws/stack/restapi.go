package stack

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/apigateway"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	awslambda "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// RestAPI is the REST API and everything that serves it.
type RestAPI struct {
	API *apigateway.RestApi
	// Body is the OpenAPI document the API is defined by.
	Body pulumi.StringOutput
	// AuthorizerID is the id API Gateway gave the document's authorizer.
	AuthorizerID pulumi.StringOutput
	// AuthorizerPermission and IntegrationPermission let API Gateway, for
	// this API only, invoke the authorizer and the AI API.
	AuthorizerPermission, IntegrationPermission *awslambda.Permission
	Deployment                                  *apigateway.Deployment
	// Trigger is the deployment's trigger (DeploymentTrigger).
	Trigger       string
	Stage         *apigateway.Stage
	StageSettings *apigateway.MethodSettings
	AccessLogs    *cloudwatch.LogGroup
	// ExecutionLogs is API Gateway's execution log group, created here so
	// that it has a retention; nil when executionLogLevel is OFF.
	ExecutionLogs *cloudwatch.LogGroup
	// AccountRole and Account are the region's API Gateway CloudWatch
	// role; nil unless ManageAPIGatewayAccount.
	AccountRole *iam.Role
	Account     *apigateway.Account
	UsagePlans  []*apigateway.UsagePlan
	APIKeys     map[string]*apigateway.ApiKey
}

// restAccessLogFormat is the stage's access log line (JSON). It names the
// principal and the authorizer's outcome, never a credential.
var restAccessLogFormat = accessLogFormat(map[string]string{
	"requestId":          "$context.requestId",
	"requestTime":        "$context.requestTimeEpoch",
	"ip":                 "$context.identity.sourceIp",
	"httpMethod":         "$context.httpMethod",
	"resourcePath":       "$context.resourcePath",
	"path":               "$context.path",
	"status":             "$context.status",
	"responseLength":     "$context.responseLength",
	"principalId":        "$context.authorizer.principalId",
	"authorizerStatus":   "$context.authorizer.status",
	"authorizerLatency":  "$context.authorizer.latency",
	"authorizerError":    "$context.authorizer.error",
	"integrationStatus":  "$context.integration.status",
	"integrationLatency": "$context.integration.latency",
	"errorType":          "$context.error.responseType",
	"errorMessage":       "$context.error.message",
})

func accessLogFormat(fields map[string]string) string {
	b, _ := json.Marshal(fields) // sorted keys: a stable format
	return string(b)
}

func newRestAPI(ctx *pulumi.Context, c Config, acct account, authorizer, aiapi *Function) (*RestAPI, error) {
	trigger, err := DeploymentTrigger(c)
	if err != nil {
		return nil, err
	}
	body := pulumi.All(authorizer.Function.Arn, aiapi.Function.Arn).ApplyT(func(arns []interface{}) (string, error) {
		doc, err := openAPIDocument(c, restAPIValues{
			Partition: acct.Partition, Region: acct.Region,
			AuthorizerARN: arns[0].(string), AIAPIARN: arns[1].(string),
		})
		return string(doc), err
	}).(pulumi.StringOutput)
	r := &RestAPI{Body: body, Trigger: trigger, APIKeys: map[string]*apigateway.ApiKey{}}

	args := &apigateway.RestApiArgs{
		Name:                  pulumi.String(c.Name),
		Description:           pulumi.String("aigate: OpenAI-compatible AI API behind a Lambda authorizer"),
		Body:                  body,
		PutRestApiMode:        pulumi.String("overwrite"),
		EndpointConfiguration: apigateway.RestApiEndpointConfigurationArgs{Types: pulumi.String("REGIONAL")},
		Tags:                  pulumi.ToStringMap(c.Tags),
	}
	if len(c.UsagePlans) > 0 {
		args.ApiKeySource = pulumi.String("AUTHORIZER")
	}
	if r.API, err = apigateway.NewRestApi(ctx, "rest", args); err != nil {
		return nil, err
	}

	// The document's authorizer gets its id from API Gateway; the
	// permission is scoped to exactly that authorizer of this API.
	ids := apigateway.GetAuthorizersOutput(ctx, apigateway.GetAuthorizersOutputArgs{RestApiId: r.API.ID()})
	r.AuthorizerID = ids.Ids().ApplyT(func(ids []string) (string, error) {
		if len(ids) != 1 {
			return "", fmt.Errorf("stack: REST API has %d authorizers, want exactly the one its OpenAPI body defines", len(ids))
		}
		return ids[0], nil
	}).(pulumi.StringOutput)
	if r.AuthorizerPermission, err = awslambda.NewPermission(ctx, "rest-authorizer", &awslambda.PermissionArgs{
		Action:    pulumi.String("lambda:InvokeFunction"),
		Function:  authorizer.Function.Name,
		Principal: pulumi.String("apigateway.amazonaws.com"),
		SourceArn: pulumi.Sprintf("%s/authorizers/%s", r.API.ExecutionArn, r.AuthorizerID),
	}); err != nil {
		return nil, err
	}
	if r.IntegrationPermission, err = awslambda.NewPermission(ctx, "rest-aiapi", &awslambda.PermissionArgs{
		Action:    pulumi.String("lambda:InvokeFunction"),
		Function:  aiapi.Function.Name,
		Principal: pulumi.String("apigateway.amazonaws.com"),
		SourceArn: pulumi.Sprintf("%s/%s/*/v1/*", r.API.ExecutionArn, c.StageName),
	}); err != nil {
		return nil, err
	}

	if r.Deployment, err = apigateway.NewDeployment(ctx, "rest", &apigateway.DeploymentArgs{
		RestApi:     r.API.ID(),
		Description: pulumi.String("aigate REST API"),
		Triggers:    pulumi.StringMap{"openapi-sha256": pulumi.String(trigger)},
	}); err != nil {
		return nil, err
	}

	stageDeps := []pulumi.Resource{}
	if c.ManageAPIGatewayAccount {
		if err := r.newAccount(ctx, c, acct); err != nil {
			return nil, err
		}
		stageDeps = append(stageDeps, r.Account)
	}
	if r.AccessLogs, err = cloudwatch.NewLogGroup(ctx, "rest-access", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String("/aws/apigateway/" + c.Name + "/access"),
		RetentionInDays: pulumi.Int(c.LogRetentionDays),
		Tags:            pulumi.ToStringMap(c.Tags),
	}); err != nil {
		return nil, err
	}
	if c.ExecutionLogLevel != "OFF" {
		// API Gateway would create this group itself, without retention.
		if r.ExecutionLogs, err = cloudwatch.NewLogGroup(ctx, "rest-execution", &cloudwatch.LogGroupArgs{
			Name:            pulumi.Sprintf("API-Gateway-Execution-Logs_%s/%s", r.API.ID(), c.StageName),
			RetentionInDays: pulumi.Int(c.LogRetentionDays),
			Tags:            pulumi.ToStringMap(c.Tags),
		}); err != nil {
			return nil, err
		}
		stageDeps = append(stageDeps, r.ExecutionLogs)
	}
	if r.Stage, err = apigateway.NewStage(ctx, "rest", &apigateway.StageArgs{
		RestApi:    r.API.ID(),
		Deployment: r.Deployment.ID(),
		StageName:  pulumi.String(c.StageName),
		AccessLogSettings: apigateway.StageAccessLogSettingsArgs{
			DestinationArn: r.AccessLogs.Arn,
			Format:         pulumi.String(restAccessLogFormat),
		},
		Tags: pulumi.ToStringMap(c.Tags),
	}, pulumi.DependsOn(stageDeps)); err != nil {
		return nil, err
	}
	if r.StageSettings, err = apigateway.NewMethodSettings(ctx, "rest", &apigateway.MethodSettingsArgs{
		RestApi:    r.API.ID(),
		StageName:  r.Stage.StageName,
		MethodPath: pulumi.String("*/*"),
		Settings: apigateway.MethodSettingsSettingsArgs{
			ThrottlingRateLimit:  pulumi.Float64(c.ThrottleRateLimit),
			ThrottlingBurstLimit: pulumi.Int(c.ThrottleBurstLimit),
			LoggingLevel:         pulumi.String(c.ExecutionLogLevel),
			MetricsEnabled:       pulumi.Bool(true),
			// Data tracing logs whole requests, Authorization header
			// included: never.
			DataTraceEnabled: pulumi.Bool(false),
		},
	}); err != nil {
		return nil, err
	}
	return r, r.newUsagePlans(ctx, c)
}

// newAccount sets the region's API Gateway CloudWatch role, without which
// a REST stage cannot log. The role serves every REST API of the region,
// so it may write to log groups of the account in this region, and no more.
func (r *RestAPI) newAccount(ctx *pulumi.Context, c Config, acct account) error {
	var err error
	if r.AccountRole, err = iam.NewRole(ctx, "apigateway-cloudwatch", &iam.RoleArgs{
		Name:             pulumi.String(c.Name + "-apigateway-logs"),
		Description:      pulumi.String("API Gateway's CloudWatch Logs role (region-wide account setting)"),
		AssumeRolePolicy: pulumi.String(assumeRolePolicy("apigateway.amazonaws.com")),
		Tags:             pulumi.ToStringMap(c.Tags),
	}); err != nil {
		return err
	}
	doc, _ := json.Marshal(PolicyDocument{Version: "2012-10-17", Statement: []Statement{{
		Sid:    "APIGatewayLogs",
		Effect: "Allow",
		// What AWS's AmazonAPIGatewayPushToCloudWatchLogs grants, on this
		// account and region's log groups instead of "*".
		Action: []string{"logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogGroups",
			"logs:DescribeLogStreams", "logs:PutLogEvents", "logs:GetLogEvents", "logs:FilterLogEvents"},
		Resource: []string{fmt.Sprintf("arn:%s:logs:%s:%s:log-group:*", acct.Partition, acct.Region, acct.ID)},
	}}})
	policy, err := iam.NewRolePolicy(ctx, "apigateway-cloudwatch", &iam.RolePolicyArgs{
		Name:   pulumi.String(c.Name + "-apigateway-logs"),
		Role:   r.AccountRole.ID(),
		Policy: pulumi.String(string(doc)),
	})
	if err != nil {
		return err
	}
	r.Account, err = apigateway.NewAccount(ctx, "apigateway", &apigateway.AccountArgs{
		CloudwatchRoleArn: r.AccountRole.Arn,
	}, pulumi.DependsOn([]pulumi.Resource{policy}))
	return err
}

// newUsagePlans creates the usage plans on this stage and their API keys.
// API Gateway generates the keys' values (secret outputs).
func (r *RestAPI) newUsagePlans(ctx *pulumi.Context, c Config) error {
	for _, p := range c.UsagePlans {
		args := &apigateway.UsagePlanArgs{
			Name:      pulumi.String(c.Name + "-" + p.Name),
			ApiStages: apigateway.UsagePlanApiStageArray{apigateway.UsagePlanApiStageArgs{ApiId: r.API.ID(), Stage: r.Stage.StageName}},
			Tags:      pulumi.ToStringMap(c.Tags),
		}
		if p.RateLimit > 0 || p.BurstLimit > 0 {
			t := apigateway.UsagePlanThrottleSettingsArgs{}
			if p.RateLimit > 0 {
				t.RateLimit = pulumi.Float64(p.RateLimit)
			}
			if p.BurstLimit > 0 {
				t.BurstLimit = pulumi.Int(p.BurstLimit)
			}
			args.ThrottleSettings = t
		}
		if p.QuotaLimit > 0 {
			args.QuotaSettings = apigateway.UsagePlanQuotaSettingsArgs{Limit: pulumi.Int(p.QuotaLimit), Period: pulumi.String(p.QuotaPeriod)}
		}
		plan, err := apigateway.NewUsagePlan(ctx, "plan-"+p.Name, args)
		if err != nil {
			return err
		}
		r.UsagePlans = append(r.UsagePlans, plan)
		for _, k := range p.APIKeys {
			key, err := apigateway.NewApiKey(ctx, "apikey-"+k, &apigateway.ApiKeyArgs{
				Name:    pulumi.String(c.Name + "-" + k),
				Enabled: pulumi.Bool(true),
				Tags:    pulumi.ToStringMap(c.Tags),
			})
			if err != nil {
				return err
			}
			r.APIKeys[k] = key
			if _, err := apigateway.NewUsagePlanKey(ctx, "apikey-"+k, &apigateway.UsagePlanKeyArgs{
				KeyId: key.ID(), KeyType: pulumi.String("API_KEY"), UsagePlanId: plan.ID(),
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

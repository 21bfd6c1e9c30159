//go:build !lambda.norpc

package dynamodb

import (
	"context"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

// loadAWSConfig uses the SDK's whole default chain (profiles, SSO, web
// identity, instance metadata): what an operator's CLI needs. Lambda
// builds (tag lambda.norpc) use awsconfig_lambda.go instead.
func loadAWSConfig(ctx context.Context, region string, local bool, hc aws.HTTPClient) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{config.WithHTTPClient(hc)}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if local {
		opts = append(opts, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
		if os.Getenv("AWS_ACCESS_KEY_ID") == "" {
			opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
		}
	}
	return config.LoadDefaultConfig(ctx, opts...)
}

//go:build lambda.norpc

package dynamodb

import (
	"context"
	"errors"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// loadAWSConfig reads what the Lambda runtime provides: the region and the
// execution role's credentials in the environment. The SDK's default chain
// would read the same variables first, but linking it (SSO, STS, instance
// metadata) costs a Lambda 2 MB and cold-start time it never uses.
func loadAWSConfig(_ context.Context, region string, local bool, hc aws.HTTPClient) (aws.Config, error) {
	if region == "" {
		region = os.Getenv("AWS_REGION")
	}
	if region == "" {
		region = os.Getenv("AWS_DEFAULT_REGION")
	}
	id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	switch {
	case id != "" && secret != "":
	case local:
		id, secret = "local", "local" // dynalite ignores credentials
	default:
		return aws.Config{}, errors.New("no AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the environment (the Lambda runtime sets them)")
	}
	return aws.Config{
		Region:      region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(id, secret, os.Getenv("AWS_SESSION_TOKEN"))),
		HTTPClient:  hc,
	}, nil
}

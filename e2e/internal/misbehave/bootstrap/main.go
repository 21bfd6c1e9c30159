// Command bootstrap runs the misbehave test authorizer as a Lambda.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/aigate/aigate/e2e/internal/misbehave"
)

func main() { lambda.Start(misbehave.Handler{}) }

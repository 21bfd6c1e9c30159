// Command aws is the Pulumi program that deploys aigate on AWS (README.md).
// It loads the stack configuration, builds the stack (package stack) and
// exports its endpoints and names.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aigate/aigate/deploy/aws/stack"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		cfg, err := stack.LoadConfig(ctx)
		if err != nil {
			return err
		}
		s, err := stack.New(ctx, cfg)
		if err != nil {
			return err
		}
		s.Export(ctx)
		return nil
	})
}

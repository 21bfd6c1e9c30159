package lambdaemu_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aigate/aigate/gateway/lambdaemu"
)

// Run a Lambda binary under two emulator processes and invoke it.
func ExamplePool() {
	pool := &lambdaemu.Pool{Bootstrap: "./bootstrap", Size: 2}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := pool.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close()
	out, err := pool.Invoke(ctx, []byte(`{"type":"TOKEN","authorizationToken":"x","methodArn":"arn:aws:execute-api:us-east-1:123456789012:api/local/GET/"}`))
	var fe *lambdaemu.FunctionError
	switch {
	case errors.As(err, &fe):
		fmt.Println("function error:", fe.Message)
	case err != nil:
		fmt.Println(err)
	default:
		fmt.Println(string(out))
	}
}

// Invoke a function through an invoke API started elsewhere (an
// aws-lambda-rie on port 9001), one invocation at a time.
func ExampleClient() {
	client := &lambdaemu.Client{URL: "http://127.0.0.1:9001", MaxConcurrency: 1}
	authorizer := client.Function("function")
	_, _ = authorizer.Invoke(context.Background(), []byte(`{}`))
}

// Package lambdaemu calls Lambda functions through the Lambda invoke API
// (POST /2015-03-31/functions/{name}/invocations) and runs them locally under
// the AWS Lambda Runtime Interface Emulator (aws-lambda-rie).
//
// It owns the two quirks of the emulator that every caller would otherwise
// rediscover: a handler error comes back as HTTP 200 with the body
// {"errorMessage":…,"errorType":…} (see FunctionError), and two simultaneous
// invocations crash it, so each endpoint gets a bounded number of in-flight
// invocations (Client) and each emulator process exactly one (Pool).
//
// It never decides anything about API Gateway: it moves payloads and reports
// function errors; the gateway package interprets them.
package lambdaemu

// Command echo is a tiny Lambda function for lambdaemu's tests, run under
// the real aws-lambda-rie. It echoes its event, sleeps when asked, fails with
// a given message when asked, and reports its pid and when it ran, so that a
// test can tell processes apart and see that invocations never overlapped.
package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	SleepMs int    `json:"sleepMs"`
	Fail    string `json:"fail"`
	Echo    string `json:"echo"`
}

type result struct {
	Echo    string `json:"echo"`
	PID     int    `json:"pid"`
	StartNs int64  `json:"startNs"`
	EndNs   int64  `json:"endNs"`
}

func handle(ctx context.Context, ev event) (result, error) {
	start := time.Now()
	if ev.Fail != "" {
		return result{}, errors.New(ev.Fail)
	}
	time.Sleep(time.Duration(ev.SleepMs) * time.Millisecond)
	return result{Echo: ev.Echo, PID: os.Getpid(), StartNs: start.UnixNano(), EndNs: time.Now().UnixNano()}, nil
}

func main() {
	lambda.Start(handle)
}

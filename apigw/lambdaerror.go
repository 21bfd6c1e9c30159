package apigw

import (
	"encoding/json"
	"reflect"

	"github.com/aws/aws-lambda-go/lambda/messages"
)

// ErrorPayload encodes err the way the Lambda runtime reports a handler
// error ({"errorMessage":…,"errorType":…}), so that `aigate authorize` prints
// byte for byte what the Lambda invoke API returns for the same event.
func ErrorPayload(err error) []byte {
	var resp messages.InvokeResponse_Error
	if ive, ok := err.(messages.InvokeResponse_Error); ok {
		resp = ive
	} else {
		resp = messages.InvokeResponse_Error{Message: err.Error(), Type: errorType(err)}
	}
	b, _ := json.Marshal(struct {
		Message string `json:"errorMessage"`
		Type    string `json:"errorType"`
	}{resp.Message, resp.Type})
	return b
}

// errorType names the error's type as aws-lambda-go's runtime does
// (lambda/errors.go): the type name, dereferenced once.
func errorType(err error) string {
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Ptr {
		return t.Elem().Name()
	}
	return t.Name()
}

package policy

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidMethodARN is wrapped by every error ParseMethodARN returns. The
// errors say which part is wrong but never quote the input: the path is
// chosen by the client and may carry anything.
var ErrInvalidMethodARN = errors.New("policy: invalid method ARN")

// DefaultRoute is the Method of an HTTP API routeArn for the $default route,
// which has no verb and no path: "…:{apiId}/{stage}/$default". That shape is
// taken from the source ARNs that Lambda permissions use for the $default
// route; no AWS-recorded authorizer event has been seen.
const DefaultRoute = "$default"

// DefaultStage is the name of an HTTP API's auto-deployed stage.
const DefaultStage = "$default"

// MethodARN is a parsed REST API methodArn or HTTP API routeArn:
//
//	arn:{Partition}:execute-api:{Region}:{AccountID}:{APIID}/{Stage}/{Method}/{Path}
type MethodARN struct {
	Partition string // "aws", "aws-cn", "aws-us-gov", …
	Region    string
	AccountID string // 12 digits
	APIID     string
	// Stage is the stage name; "$default" for an HTTP API's default stage,
	// "*" when API Gateway's console tests an authorizer.
	Stage string
	// Method is the HTTP verb as given ("GET"), "*", or DefaultRoute.
	Method string
	// Path is the request path, with path parameters as their values, and
	// without the leading slash: the root resource is "". It is chosen by
	// the client: never copy it into a policy.
	Path string
}

// ParseMethodARN parses a methodArn or routeArn. It is strict about the parts
// API Gateway fills in (partition, service, region, account, API id, stage,
// verb) and takes the path as it is, slashes and colons included. It does
// not allocate on success.
func ParseMethodARN(s string) (MethodARN, error) {
	var a MethodARN
	if len(s) > MaxMethodARNLength {
		return a, fmt.Errorf("%w: longer than %d bytes", ErrInvalidMethodARN, MaxMethodARNLength)
	}
	rest, ok := strings.CutPrefix(s, "arn:")
	if !ok {
		return a, fmt.Errorf("%w: no arn: prefix", ErrInvalidMethodARN)
	}
	// Split on the first colons only: the path may contain colons.
	a.Partition, rest, _ = strings.Cut(rest, ":")
	service, rest, _ := strings.Cut(rest, ":")
	a.Region, rest, _ = strings.Cut(rest, ":")
	a.AccountID, rest, ok = strings.Cut(rest, ":")
	if !ok {
		return MethodARN{}, fmt.Errorf("%w: missing parts", ErrInvalidMethodARN)
	}
	if service != "execute-api" {
		return MethodARN{}, fmt.Errorf("%w: service is not execute-api", ErrInvalidMethodARN)
	}
	if !isPartition(a.Partition) {
		return MethodARN{}, fmt.Errorf("%w: bad partition", ErrInvalidMethodARN)
	}
	if !isRegion(a.Region) {
		return MethodARN{}, fmt.Errorf("%w: bad region", ErrInvalidMethodARN)
	}
	if !isAccountID(a.AccountID) {
		return MethodARN{}, fmt.Errorf("%w: account id is not 12 digits", ErrInvalidMethodARN)
	}

	a.APIID, rest, ok = strings.Cut(rest, "/")
	if !ok {
		return MethodARN{}, fmt.Errorf("%w: missing stage", ErrInvalidMethodARN)
	}
	if !isAPIID(a.APIID) {
		return MethodARN{}, fmt.Errorf("%w: bad API id", ErrInvalidMethodARN)
	}
	a.Stage, rest, ok = strings.Cut(rest, "/")
	if !ok {
		return MethodARN{}, fmt.Errorf("%w: missing method", ErrInvalidMethodARN)
	}
	if !isStage(a.Stage) {
		return MethodARN{}, fmt.Errorf("%w: bad stage", ErrInvalidMethodARN)
	}
	a.Method, a.Path, ok = strings.Cut(rest, "/")
	if a.Method == DefaultRoute && !ok {
		// HTTP API $default route: "…/{stage}/$default", nothing after.
		return a, nil
	}
	if !ok {
		// The root resource is "…/GET/", never "…/GET".
		return MethodARN{}, fmt.Errorf("%w: missing path", ErrInvalidMethodARN)
	}
	if !isMethod(a.Method) {
		return MethodARN{}, fmt.Errorf("%w: bad method", ErrInvalidMethodARN)
	}
	return a, nil
}

// String returns the ARN that ParseMethodARN parsed a from.
func (a MethodARN) String() string {
	if a.Method == DefaultRoute && a.Path == "" {
		return a.StagePrefix() + DefaultRoute
	}
	return a.StagePrefix() + a.Method + "/" + a.Path
}

// StagePrefix is the ARN prefix shared by every route of a's API stage,
// "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/". Append a
// "VERB/path" pattern ("*/v1/*") to build a policy Resource that stays valid
// when API Gateway reuses a cached policy for another route. When Stage is
// "*" (the console's authorizer test) the prefix covers every stage, as on
// AWS.
func (a MethodARN) StagePrefix() string {
	return "arn:" + a.Partition + ":execute-api:" + a.Region + ":" + a.AccountID + ":" + a.APIID + "/" + a.Stage + "/"
}

func isPartition(s string) bool {
	// "aws", "aws-cn", "aws-us-gov", "aws-iso-b", …
	if s == "aws" {
		return true
	}
	if !strings.HasPrefix(s, "aws-") || len(s) == len("aws-") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(isLowerAlpha(c) || c == '-') {
			return false
		}
	}
	return true
}

func isRegion(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(isLowerAlpha(c) || isDigit(c) || c == '-') {
			return false
		}
	}
	return true
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// isAPIID accepts AWS's ids (ten lowercase letters and digits) and the
// hyphenated names a local gateway may use. Never a wildcard: StagePrefix
// goes into policies.
func isAPIID(s string) bool {
	return isName(s)
}

// isStage accepts AWS stage names (letters, digits, '-', '_'), HTTP API's
// "$default", and "*", which the API Gateway console sends when it tests an
// authorizer (see aws-lambda-go's apigw-custom-auth-request.json fixture).
func isStage(s string) bool {
	return s == DefaultStage || s == "*" || isName(s)
}

// isMethod accepts an HTTP verb made of letters, as API Gateway passes it,
// or "*".
func isMethod(s string) bool {
	if s == "*" {
		return true
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(isLowerAlpha(c) || isUpperAlpha(c)) {
			return false
		}
	}
	return true
}

func isName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(isLowerAlpha(c) || isUpperAlpha(c) || isDigit(c) || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func isLowerAlpha(c byte) bool { return 'a' <= c && c <= 'z' }
func isUpperAlpha(c byte) bool { return 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool      { return '0' <= c && c <= '9' }

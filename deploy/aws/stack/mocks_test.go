package stack

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// The account and region the mocks answer with.
const (
	testRegion  = "us-east-1"
	testAccount = "123456789012"
	testRestAPI = "rest1234"
	testHTTPAPI = "http5678"
	testAuthzID = "authz42"
)

// recorded is one resource registration the mocks saw.
type recorded struct {
	Type, Name, ID string
	Inputs         resource.PropertyMap
}

// mocks stand for the AWS provider: they record every resource's inputs and
// return the outputs AWS would compute. Pulumi calls them concurrently.
type mocks struct {
	mu        sync.Mutex
	resources []recorded
	calls     []string
}

func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	outs := args.Inputs.Copy()
	id := args.Name + "-id"
	name := ""
	if v, ok := args.Inputs["name"]; ok && v.IsString() {
		name = v.StringValue()
	}
	set := func(k, v string) { outs[resource.PropertyKey(k)] = resource.NewStringProperty(v) }
	switch args.TypeToken {
	case "aws:dynamodb/table:Table":
		id = name
		set("arn", fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", testRegion, testAccount, name))
	case "aws:cloudwatch/logGroup:LogGroup":
		id = name
		set("arn", fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s", testRegion, testAccount, name))
	case "aws:iam/role:Role":
		id = name
		set("arn", fmt.Sprintf("arn:aws:iam::%s:role/%s", testAccount, name))
	case "aws:lambda/function:Function":
		id = name
		arn := fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", testRegion, testAccount, name)
		set("arn", arn)
		set("invokeArn", fmt.Sprintf("arn:aws:apigateway:%s:lambda:path/2015-03-31/functions/%s/invocations", testRegion, arn))
	case "aws:apigateway/restApi:RestApi":
		id = testRestAPI
		set("executionArn", fmt.Sprintf("arn:aws:execute-api:%s:%s:%s", testRegion, testAccount, id))
		set("rootResourceId", "root0")
		set("arn", fmt.Sprintf("arn:aws:apigateway:%s::/restapis/%s", testRegion, id))
	case "aws:apigateway/stage:Stage":
		stage := args.Inputs["stageName"].StringValue()
		set("invokeUrl", fmt.Sprintf("https://%s.execute-api.%s.amazonaws.com/%s", testRestAPI, testRegion, stage))
		set("executionArn", fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/%s", testRegion, testAccount, testRestAPI, stage))
	case "aws:apigatewayv2/api:Api":
		id = testHTTPAPI
		set("executionArn", fmt.Sprintf("arn:aws:execute-api:%s:%s:%s", testRegion, testAccount, id))
		set("apiEndpoint", fmt.Sprintf("https://%s.execute-api.%s.amazonaws.com", id, testRegion))
	case "aws:apigatewayv2/authorizer:Authorizer":
		id = "httpauthz1"
	case "aws:apigatewayv2/stage:Stage":
		set("invokeUrl", fmt.Sprintf("https://%s.execute-api.%s.amazonaws.com/%s", testHTTPAPI, testRegion, name))
	case "aws:apigateway/apiKey:ApiKey":
		outs["value"] = resource.MakeSecret(resource.NewStringProperty("generated-by-api-gateway"))
	}
	m.mu.Lock()
	m.resources = append(m.resources, recorded{Type: args.TypeToken, Name: args.Name, ID: id, Inputs: args.Inputs})
	m.mu.Unlock()
	return id, outs, nil
}

func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	m.mu.Lock()
	m.calls = append(m.calls, args.Token)
	m.mu.Unlock()
	switch args.Token {
	case "aws:index/getRegion:getRegion":
		return resource.NewPropertyMapFromMap(map[string]any{"name": testRegion, "id": testRegion}), nil
	case "aws:index/getCallerIdentity:getCallerIdentity":
		return resource.NewPropertyMapFromMap(map[string]any{
			"accountId": testAccount, "id": testAccount, "userId": "AIDEXAMPLE",
			"arn": "arn:aws:iam::" + testAccount + ":user/deployer",
		}), nil
	case "aws:apigateway/getAuthorizers:getAuthorizers":
		return resource.NewPropertyMapFromMap(map[string]any{
			"ids": []any{testAuthzID}, "id": testRestAPI, "restApiId": args.Args["restApiId"].StringValue(),
		}), nil
	}
	return nil, fmt.Errorf("mocks: unexpected call %s", args.Token)
}

// all returns the recorded resources of one type.
func (m *mocks) all(typ string) []recorded {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []recorded
	for _, r := range m.resources {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// one returns the resource of type typ named name, failing the test if
// there is none.
func (m *mocks) one(t *testing.T, typ, name string) recorded {
	t.Helper()
	for _, r := range m.all(typ) {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no %s named %q", typ, name)
	return recorded{}
}

// deploy runs New (and Export) under the mocks.
func deploy(t *testing.T, c Config) (*mocks, error) {
	t.Helper()
	m := &mocks{}
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		s, err := New(ctx, c)
		if err != nil {
			return err
		}
		s.Export(ctx)
		return nil
	}, pulumi.WithMocks("aigate", "test", m))
	return m, err
}

// mustDeploy is deploy for configurations that must work.
func mustDeploy(t *testing.T, c Config) *mocks {
	t.Helper()
	m, err := deploy(t, c)
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	return m
}

// testConfig is Defaults with a hash key and artifacts that pass CheckArtifact.
func testConfig(t *testing.T) Config {
	t.Helper()
	c := Defaults("test")
	c.HashKey = strings.Repeat("5a", 32)
	dir := t.TempDir()
	c.Authorizer.Artifact = writeArtifact(t, filepath.Join(dir, "authorizer.zip"), "bootstrap", 0o755, emAArch64)
	c.AIAPI.Artifact = writeArtifact(t, filepath.Join(dir, "aiapi.zip"), "bootstrap", 0o755, emAArch64)
	return c
}

// writeArtifact writes a zip holding one file: a bare ELF header for machine.
func writeArtifact(t *testing.T, path, entry string, mode os.FileMode, machine uint16) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	hdr := &zip.FileHeader{Name: entry, Method: zip.Deflate}
	hdr.SetMode(mode)
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		t.Fatal(err)
	}
	elf := make([]byte, 64)
	copy(elf, "\x7fELF\x02\x01\x01")
	elf[16] = 2 // ET_EXEC
	elf[18], elf[19] = byte(machine), byte(machine>>8)
	w.Write(elf)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// str reads a string input by path ("environment.variables.AIGATE_STORE"),
// through secrets; "" when absent.
func str(in resource.PropertyMap, path string) string {
	v, ok := lookup(in, path)
	if !ok || !v.IsString() {
		return ""
	}
	return v.StringValue()
}

func lookup(in resource.PropertyMap, path string) (resource.PropertyValue, bool) {
	cur := resource.NewObjectProperty(in)
	for _, k := range strings.Split(path, ".") {
		for cur.IsSecret() {
			cur = cur.SecretValue().Element
		}
		if !cur.IsObject() {
			return resource.PropertyValue{}, false
		}
		next, ok := cur.ObjectValue()[resource.PropertyKey(k)]
		if !ok {
			return resource.PropertyValue{}, false
		}
		cur = next
	}
	for cur.IsSecret() {
		cur = cur.SecretValue().Element
	}
	return cur, true
}

// isSecret reports whether the input at path is a Pulumi secret.
func isSecret(in resource.PropertyMap, path string) bool {
	parts := strings.Split(path, ".")
	cur := resource.NewObjectProperty(in)
	for i, k := range parts {
		if cur.IsSecret() {
			return true
		}
		if !cur.IsObject() {
			return false
		}
		cur = cur.ObjectValue()[resource.PropertyKey(k)]
		if i == len(parts)-1 {
			return cur.IsSecret()
		}
	}
	return false
}

// restBody parses the REST API's OpenAPI body as the mocks received it.
func restBody(t *testing.T, m *mocks) OpenAPI {
	t.Helper()
	api := m.one(t, "aws:apigateway/restApi:RestApi", "rest")
	var doc OpenAPI
	dec := json.NewDecoder(strings.NewReader(str(api.Inputs, "body")))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("REST API body: %v\n%s", err, str(api.Inputs, "body"))
	}
	return doc
}

// policy parses a role policy's document.
func policy(t *testing.T, r recorded) PolicyDocument {
	t.Helper()
	var doc PolicyDocument
	if err := json.Unmarshal([]byte(str(r.Inputs, "policy")), &doc); err != nil {
		t.Fatalf("policy %s: %v", r.Name, err)
	}
	return doc
}

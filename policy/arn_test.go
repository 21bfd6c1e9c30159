package policy

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestParseMethodARNReadsEveryPart(t *testing.T) {
	tests := []struct {
		name string
		arn  string
		want MethodARN
	}{
		{
			"REST method ARN",
			"arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/POST/v1/chat/completions",
			MethodARN{"aws", "us-east-1", "123456789012", "a1b2c3d4e5", "prod", "POST", "v1/chat/completions"},
		},
		{
			"root resource has an empty path",
			"arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/",
			MethodARN{"aws", "us-east-1", "123456789012", "a1b2c3d4e5", "prod", "GET", ""},
		},
		{
			"path keeps trailing slash",
			"arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/v1/",
			MethodARN{"aws", "us-east-1", "123456789012", "a1b2c3d4e5", "prod", "GET", "v1/"},
		},
		{
			"path may contain colons",
			"arn:aws:execute-api:eu-central-1:123456789012:a1b2c3d4e5/lab/GET/counters/2021-08-01T00:00:00Z",
			MethodARN{"aws", "eu-central-1", "123456789012", "a1b2c3d4e5", "lab", "GET", "counters/2021-08-01T00:00:00Z"},
		},
		{
			"path may contain wildcards literally",
			"arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/v1/*/?",
			MethodARN{"aws", "us-east-1", "123456789012", "a1b2c3d4e5", "prod", "GET", "v1/*/?"},
		},
		{
			"China partition",
			"arn:aws-cn:execute-api:cn-north-1:123456789012:a1b2c3d4e5/prod/GET/x",
			MethodARN{"aws-cn", "cn-north-1", "123456789012", "a1b2c3d4e5", "prod", "GET", "x"},
		},
		{
			"GovCloud partition",
			"arn:aws-us-gov:execute-api:us-gov-west-1:123456789012:a1b2c3d4e5/prod/GET/x",
			MethodARN{"aws-us-gov", "us-gov-west-1", "123456789012", "a1b2c3d4e5", "prod", "GET", "x"},
		},
		{
			"HTTP API routeArn on the default stage",
			"arn:aws:execute-api:us-east-1:123456789012:abcdef123/$default/GET/pets/a1b2",
			MethodARN{"aws", "us-east-1", "123456789012", "abcdef123", "$default", "GET", "pets/a1b2"},
		},
		{
			"HTTP API $default route",
			"arn:aws:execute-api:us-east-1:123456789012:abcdef123/$default/$default",
			MethodARN{"aws", "us-east-1", "123456789012", "abcdef123", "$default", DefaultRoute, ""},
		},
		{
			"wildcard verb",
			"arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/*/v1",
			MethodARN{"aws", "us-east-1", "123456789012", "a1b2c3d4e5", "prod", "*", "v1"},
		},
		{
			"console test uses a wildcard stage",
			"arn:aws:execute-api:us-west-2:123456789012:ymy8tbxw7b/*/GET/",
			MethodARN{"aws", "us-west-2", "123456789012", "ymy8tbxw7b", "*", "GET", ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMethodARN(tt.arn)
			if err != nil {
				t.Fatalf("ParseMethodARN: %v", err)
			}
			if got != tt.want {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
			if s := got.String(); s != tt.arn {
				t.Fatalf("String() = %q, want %q", s, tt.arn)
			}
		})
	}
}

func TestParseMethodARNRefusesMalformed(t *testing.T) {
	const ok = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/v1"
	tests := []struct {
		name string
		arn  string
	}{
		{"empty", ""},
		{"too long", "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/" + strings.Repeat("x", MaxMethodARNLength)},
		{"no arn prefix", strings.TrimPrefix(ok, "arn:")},
		{"uppercase arn prefix", "ARN" + strings.TrimPrefix(ok, "arn")},
		{"wrong service", strings.Replace(ok, "execute-api", "lambda", 1)},
		{"service case differs", strings.Replace(ok, "execute-api", "Execute-Api", 1)},
		{"empty partition", strings.Replace(ok, "arn:aws:", "arn::", 1)},
		{"unknown partition", strings.Replace(ok, "arn:aws:", "arn:gcp:", 1)},
		{"wildcard partition", strings.Replace(ok, "arn:aws:", "arn:*:", 1)},
		{"empty region", strings.Replace(ok, "us-east-1", "", 1)},
		{"wildcard region", strings.Replace(ok, "us-east-1", "*", 1)},
		{"short account", strings.Replace(ok, "123456789012", "12345678901", 1)},
		{"wildcard account", strings.Replace(ok, "123456789012", "*", 1)},
		{"missing account", "arn:aws:execute-api:us-east-1"},
		{"no resource", "arn:aws:execute-api:us-east-1:123456789012:"},
		{"only api id", "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5"},
		{"empty api id", strings.Replace(ok, "a1b2c3d4e5", "", 1)},
		{"wildcard api id", strings.Replace(ok, "a1b2c3d4e5", "*", 1)},
		{"missing verb", "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod"},
		{"empty stage", strings.Replace(ok, "/prod/", "//", 1)},
		{"stage with a dot", strings.Replace(ok, "/prod/", "/pr.od/", 1)},
		{"empty verb", "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod//v1"},
		{"verb without path slash", "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET"},
		{"verb with digits", "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/G3T/v1"},
		{"verb with wildcard inside", "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/G*/v1"},
		{"$default route with a path", "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/$default/"},
		{"authorizer ARN", "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/authorizers/abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMethodARN(tt.arn)
			if err == nil {
				t.Fatalf("parsed %q as %+v", tt.arn, got)
			}
			if !errors.Is(err, ErrInvalidMethodARN) || !strings.HasPrefix(err.Error(), "policy: ") {
				t.Fatalf("error %q does not wrap ErrInvalidMethodARN", err)
			}
			if got != (MethodARN{}) {
				t.Fatalf("returned %+v with the error", got)
			}
		})
	}
}

func TestParseMethodARNErrorNeverQuotesThePath(t *testing.T) {
	const secret = "sk-live-0123456789"
	for _, arn := range []string{
		"arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/" + secret,
		"arn:aws:execute-api:us-east-1:123456789012:" + secret,
		"arn:aws:" + secret,
		"arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/" + secret + strings.Repeat("x", MaxMethodARNLength),
	} {
		_, err := ParseMethodARN(arn)
		if err == nil {
			t.Fatalf("parsed %q", arn)
		}
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error %q quotes the input", err)
		}
	}
}

func TestParseMethodARNAcceptsTheLongestARN(t *testing.T) {
	prefix := "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/"
	arn := prefix + strings.Repeat("x", MaxMethodARNLength-len(prefix))
	if _, err := ParseMethodARN(arn); err != nil {
		t.Fatalf("%d bytes: %v", len(arn), err)
	}
	if _, err := ParseMethodARN(arn + "x"); err == nil {
		t.Fatalf("%d bytes parsed", len(arn)+1)
	}
}

func TestParseMethodARNReadsAWSFixtures(t *testing.T) {
	for _, file := range []string{"testdata/apigw-custom-auth-request.json"} {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var ev struct {
			MethodArn string `json:"methodArn"`
		}
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		a, err := ParseMethodARN(ev.MethodArn)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if a.String() != ev.MethodArn {
			t.Fatalf("%s: String() = %q", file, a.String())
		}
	}
}

func TestStagePrefixCoversEveryRouteOfTheStageOnly(t *testing.T) {
	a, err := ParseMethodARN("arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/POST/v1/chat")
	if err != nil {
		t.Fatal(err)
	}
	const want = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/"
	if got := a.StagePrefix(); got != want {
		t.Fatalf("StagePrefix() = %q, want %q", got, want)
	}
	all := a.StagePrefix() + "*"
	for arn, want := range map[string]bool{
		a.String(): true,
		"arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/":        true,
		"arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod2/GET/":       false,
		"arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e6/prod/GET/":        false,
		"arn:aws:execute-api:us-east-1:123456789013:a1b2c3d4e5/prod/GET/":        false,
		"arn:aws:execute-api:us-west-2:123456789012:a1b2c3d4e5/prod/GET/":        false,
		"arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/production/GET/x": false,
	} {
		if got := Match(all, arn); got != want {
			t.Errorf("Match(%q, %q) = %v, want %v", all, arn, got, want)
		}
	}
}

func TestParseMethodARNDoesNotAllocate(t *testing.T) {
	const arn = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/POST/v1/chat/completions"
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := ParseMethodARN(arn); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("ParseMethodARN allocates %v times per call", allocs)
	}
}

func FuzzParseMethodARN(f *testing.F) {
	f.Add("arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/POST/v1/chat/completions")
	f.Add("arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/")
	f.Add("arn:aws:execute-api:us-east-1:123456789012:abcdef123/$default/$default")
	f.Add("arn:aws:execute-api:us-west-2:123456789012:ymy8tbxw7b/*/GET/")
	f.Add("arn:aws-us-gov:execute-api:us-gov-west-1:123456789012:a/b/GET/x:y/z")
	f.Add("arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseMethodARN(s)
		if err != nil {
			if a != (MethodARN{}) {
				t.Fatalf("error %v came with %+v", err, a)
			}
			return
		}
		if got := a.String(); got != s {
			t.Fatalf("String() = %q, parsed from %q", got, s)
		}
		b, err := ParseMethodARN(a.String())
		if err != nil {
			t.Fatalf("String() %q does not reparse: %v", a.String(), err)
		}
		if a != b {
			t.Fatalf("reparse gave %+v, want %+v", b, a)
		}
		if !strings.HasPrefix(s, a.StagePrefix()) {
			t.Fatalf("%q does not start with its StagePrefix %q", s, a.StagePrefix())
		}
		if !Match(a.StagePrefix()+"*", s) {
			t.Fatalf("StagePrefix()+\"*\" does not match %q", s)
		}
	})
}

func BenchmarkParseMethodARN(b *testing.B) {
	const arn = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/POST/v1/chat/completions"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseMethodARN(arn); err != nil {
			b.Fatal(err)
		}
	}
}

package strictyaml_test

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/aigate/aigate/duration"
	"github.com/aigate/aigate/strictyaml"
)

type seconds time.Duration

func (s *seconds) UnmarshalYAML(n *yaml.Node) error {
	d, err := time.ParseDuration(n.Value)
	*s = seconds(d)
	return err
}

type inner struct {
	Port  int     `yaml:"port"`
	Ratio float64 `yaml:"ratio"`
}

type config struct {
	Name    string            `yaml:"name"`
	On      bool              `yaml:"on"`
	Items   []inner           `yaml:"items"`
	Labels  map[string]string `yaml:"labels"`
	Timeout seconds           `yaml:"timeout"`
	Limit   *int64            `yaml:"limit"`
	Wait    time.Duration     `yaml:"wait"`
	Every   duration.Duration `yaml:"every"`
	inner   `yaml:",inline"`
}

func TestDecodeNamesTheBadField(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"unknown top-level field", "nmae: x", "test: nmae: unknown field (line 1)"},
		{"unknown nested field", "items:\n  - port: 1\n    prot: 2", "test: items[0].prot: unknown field (line 3)"},
		{"int expected", "items: [{port: many}]", "test: items[0].port: must be an integer"},
		{"int64 pointer", "limit: lots", "test: limit: must be an integer"},
		{"float expected", "items: [{ratio: x}]", "test: items[0].ratio: must be a number"},
		{"bool expected", "on: maybe", "test: on: must be true or false"},
		{"list expected", "items: {port: 1}", "test: items: must be a list"},
		{"mapping expected", "labels: [a]", "test: labels: must be a mapping"},
		{"string in map", "labels: {a: [1]}", "test: labels.a: must be a string"},
		{"custom unmarshaler error", "timeout: soon", "test: config:"},
		{"inline field known", "port: x", "test: port: must be an integer"},
		{"empty document", "", "test: config: empty document"},
		{"duration expected", "wait: soon", "test: wait: must be a duration"},
		{"text unmarshaler error at its path", "every: soon", `test: every: duration: "soon" is not a duration`},
		{"text unmarshaler wants a scalar", "every: [1s]", "test: every: must be a scalar"},
		{"syntax error", "a: [", "test: config:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c config
			err := strictyaml.Decode([]byte(tt.doc), &c, "test")
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("err = %v, want prefix %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
		})
	}
}

func TestDecodeValid(t *testing.T) {
	var c config
	doc := "name: a\non: true\nitems: [{port: 1, ratio: 0.5}]\nlabels: {k: v}\ntimeout: 2s\nlimit: 7\nport: 9\nwait: 1m30s\nevery: 45s"
	if err := strictyaml.Decode([]byte(doc), &c, "test"); err != nil {
		t.Fatal(err)
	}
	if c.Name != "a" || !c.On || c.Items[0].Port != 1 || c.Labels["k"] != "v" || time.Duration(c.Timeout) != 2*time.Second || *c.Limit != 7 || c.Port != 9 || c.Wait != 90*time.Second || c.Every.Std() != 45*time.Second {
		t.Fatalf("decoded %+v", c)
	}
}

package messages

import (
	"errors"
	"strings"
	"testing"

	"github.com/aigate/aigate/aiapi/ijson"
)

// claudeCodeBody is shaped like what Claude Code sends: system blocks with
// cache_control, tools, thinking, metadata, a tool round trip.
const claudeCodeBody = `{
 "model":"claude-sonnet-4-5","max_tokens":32000,"stream":true,
 "system":[{"type":"text","text":"You are Claude Code.","cache_control":{"type":"ephemeral"}},{"type":"text","text":"Be brief."}],
 "messages":[
  {"role":"user","content":[{"type":"text","text":"<system-reminder>ctx</system-reminder>"},{"type":"text","text":"list files","cache_control":{"type":"ephemeral"}}]},
  {"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"sig"},{"type":"text","text":"Listing."},{"type":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"ls"}}]},
  {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"a.go"}],"is_error":false},{"type":"text","text":"and now?"}]}
 ],
 "tools":[{"name":"Bash","description":"Run a command","input_schema":{"type":"object","properties":{"command":{"type":"string"}},"required":["command"]}}],
 "tool_choice":{"type":"auto"},
 "metadata":{"user_id":"u1"},
 "thinking":{"type":"enabled","budget_tokens":1024},
 "temperature":1
}`

func TestParseReadsWhatClaudeCodeSends(t *testing.T) {
	r, err := Parse([]byte(claudeCodeBody))
	if err != nil {
		t.Fatal(err)
	}
	if r.Model != "claude-sonnet-4-5" || r.MaxTokens != 32000 || !r.Stream || r.BodyBytes != int64(len(claudeCodeBody)) {
		t.Fatalf("read %q max_tokens %d stream %v bytes %d", r.Model, r.MaxTokens, r.Stream, r.BodyBytes)
	}
	if len(r.messages) != 3 || len(r.system) != 2 || len(r.tools) != 1 || r.toolChoice == nil || r.toolChoice.typ != "auto" {
		t.Fatalf("read %d messages, %d system blocks, %d tools, choice %+v", len(r.messages), len(r.system), len(r.tools), r.toolChoice)
	}
	if b := r.messages[1].blocks[2]; b.typ != "tool_use" || b.id != "toolu_1" || b.name != "Bash" || string(b.input) != `{"command":"ls"}` {
		t.Fatalf("tool_use block read as %+v", b)
	}
	if b := r.messages[2].blocks[0]; b.toolUseID != "toolu_1" || len(b.resultBlocks) != 1 || b.resultBlocks[0].text != "a.go" {
		t.Fatalf("tool_result block read as %+v", b)
	}
}

// Each refusal names the member, as a 400 must.
func TestParseRefusesWhatItCannotReadOneWay(t *testing.T) {
	const msgs = `"messages":[{"role":"user","content":"hi"}]`
	cases := []struct {
		name, body, path, message string
	}{
		{"max_tokens missing", `{"model":"m",` + msgs + `}`, "max_tokens", "max_tokens: Field required"},
		{"max_tokens null", `{"model":"m","max_tokens":null,` + msgs + `}`, "max_tokens", "max_tokens: Field required"},
		{"max_tokens zero", `{"model":"m","max_tokens":0,` + msgs + `}`, "max_tokens", "greater than or equal to 1"},
		{"max_tokens fraction", `{"model":"m","max_tokens":1.5,` + msgs + `}`, "max_tokens", "integer"},
		{"max_tokens past int64", `{"model":"m","max_tokens":9223372036854775808,` + msgs + `}`, "max_tokens", "integer"},
		{"max_tokens twice", `{"model":"m","max_tokens":1,"max_tokens":100000,` + msgs + `}`, "max_tokens", "more than once"},
		{"max_tokens case variant", `{"model":"m","max_tokens":1,"Max_Tokens":100000,` + msgs + `}`, "Max_Tokens", "did you mean max_tokens"},
		{"model missing", `{"max_tokens":1,` + msgs + `}`, "model", "model: Field required"},
		{"model empty", `{"model":"","max_tokens":1,` + msgs + `}`, "model", "at least 1 character"},
		{"model case variant", `{"model":"m","MODEL":"x","max_tokens":1,` + msgs + `}`, "MODEL", "did you mean model"},
		{"messages missing", `{"model":"m","max_tokens":1}`, "messages", "messages: Field required"},
		{"messages empty", `{"model":"m","max_tokens":1,"messages":[]}`, "messages", "at least one message"},
		{"messages not an array", `{"model":"m","max_tokens":1,"messages":{}}`, "messages", "array"},
		{"role other", `{"model":"m","max_tokens":1,"messages":[{"role":"tool","content":"x"}]}`, "messages[0].role", "'user', 'assistant' or 'system'"},
		{"role case variant", `{"model":"m","max_tokens":1,"messages":[{"role":"user","Role":"assistant","content":"x"}]}`, "messages[0].Role", "did you mean role"},
		{"content missing", `{"model":"m","max_tokens":1,"messages":[{"role":"user"}]}`, "messages[0].content", "Field required"},
		{"content a number", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":1}]}`, "messages[0].content", "string or a list"},
		{"block without type", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"text":"x"}]}]}`, "messages[0].content[0].type", "Field required"},
		{"text block without text", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"text"}]}]}`, "messages[0].content[0].text", "Field required"},
		{"text case variant", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"text","text":"a","TEXT":"b"}]}]}`, "messages[0].content[0].TEXT", "did you mean text"},
		{"image without source", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"image"}]}]}`, "messages[0].content[0].source", "Field required"},
		{"image source case variant", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"url","url":"a","URL":"b"}}]}]}`, "messages[0].content[0].source.URL", "did you mean url"},
		{"tool_use from the user", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_use","id":"t","name":"n","input":{}}]}]}`, "messages[0].content[0]", "only allowed in assistant"},
		{"tool_result from the assistant", `{"model":"m","max_tokens":1,"messages":[{"role":"assistant","content":[{"type":"tool_result","tool_use_id":"t"}]}]}`, "messages[0].content[0]", "only allowed in user"},
		{"tool_use input not an object", `{"model":"m","max_tokens":1,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"n","input":"ls"}]}]}`, "messages[0].content[0].input", "dictionary"},
		{"tool_use without id", `{"model":"m","max_tokens":1,"messages":[{"role":"assistant","content":[{"type":"tool_use","name":"n","input":{}}]}]}`, "messages[0].content[0].id", "Field required"},
		{"tool_result id case variant", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","Tool_Use_Id":"b"}]}]}`, "messages[0].content[0].Tool_Use_Id", "did you mean tool_use_id"},
		{"tool_result is_error not a boolean", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","is_error":"yes"}]}]}`, "messages[0].content[0].is_error", "boolean"},
		{"tool_result content a number", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":3}]}]}`, "messages[0].content[0].content", "string or a list"},
		{"thinking without signature", `{"model":"m","max_tokens":1,"messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"x"}]}]}`, "messages[0].content[0].signature", "Field required"},
		{"system image", `{"model":"m","max_tokens":1,` + msgs + `,"system":[{"type":"image","source":{"type":"url","url":"u"}}]}`, "system[0].type", "'text'"},
		{"system a number", `{"model":"m","max_tokens":1,` + msgs + `,"system":1}`, "system", "string or a list"},
		{"tool without input_schema", `{"model":"m","max_tokens":1,` + msgs + `,"tools":[{"name":"f"}]}`, "tools[0].input_schema", "Field required"},
		{"tool without name", `{"model":"m","max_tokens":1,` + msgs + `,"tools":[{"input_schema":{}}]}`, "tools[0].name", "Field required"},
		{"tool schema case variant", `{"model":"m","max_tokens":1,` + msgs + `,"tools":[{"name":"f","input_schema":{},"Input_Schema":{}}]}`, "tools[0].Input_Schema", "did you mean input_schema"},
		{"tool_choice other", `{"model":"m","max_tokens":1,` + msgs + `,"tool_choice":{"type":"required"}}`, "tool_choice.type", "'auto', 'any', 'tool' or 'none'"},
		{"tool_choice tool without name", `{"model":"m","max_tokens":1,` + msgs + `,"tool_choice":{"type":"tool"}}`, "tool_choice.name", "Field required"},
		{"tool_choice a string", `{"model":"m","max_tokens":1,` + msgs + `,"tool_choice":"auto"}`, "tool_choice", "object"},
		{"stop_sequences not strings", `{"model":"m","max_tokens":1,` + msgs + `,"stop_sequences":[1]}`, "stop_sequences[0]", "string"},
		{"stream not a boolean", `{"model":"m","max_tokens":1,` + msgs + `,"stream":"true"}`, "stream", "boolean"},
		{"temperature not a number", `{"model":"m","max_tokens":1,` + msgs + `,"temperature":"1"}`, "temperature", "number"},
		{"top_k a fraction", `{"model":"m","max_tokens":1,` + msgs + `,"top_k":0.5}`, "top_k", "integer"},
		{"metadata not an object", `{"model":"m","max_tokens":1,` + msgs + `,"metadata":[]}`, "metadata", "object"},
		{"thinking budget case variant", `{"model":"m","max_tokens":1,` + msgs + `,"thinking":{"type":"enabled","budget_tokens":1,"Budget_Tokens":9}}`, "thinking.Budget_Tokens", "did you mean budget_tokens"},
		{"invalid UTF-8", "{\"model\":\"m\xff\",\"max_tokens\":1," + msgs + "}", "", "UTF-8"},
		{"not an object", `[]`, "", "object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.body))
			var je *ijson.Error
			if !errors.As(err, &je) {
				t.Fatalf("Parse returned %v, want an *ijson.Error", err)
			}
			if je.Path != c.path || !strings.Contains(je.Message, c.message) {
				t.Fatalf("refused at %q with %q, want %q with %q", je.Path, je.Message, c.path, c.message)
			}
		})
	}
}

func TestParseCountTokensDoesNotNeedMaxTokens(t *testing.T) {
	r, err := ParseCountTokens([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil || r.MaxTokens != 0 {
		t.Fatalf("ParseCountTokens = %+v, %v", r, err)
	}
	// A max_tokens that is there is still read strictly.
	if _, err := ParseCountTokens([]byte(`{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"hi"}]}`)); err == nil {
		t.Fatal("ParseCountTokens accepted max_tokens 0")
	}
	if _, err := ParseCountTokens([]byte(`{"model":"m","messages":[]}`)); err == nil {
		t.Fatal("ParseCountTokens accepted no messages")
	}
}

// What goes upstream is the body as read, without the nulls aigate read as
// unset, and with members aigate does not read kept as they came.
func TestParseKeepsTheBodyAsReadWithoutNulls(t *testing.T) {
	r, err := Parse([]byte(`{"model":"m","max_tokens":5,"system":null,"messages":[{"role":"user","content":"hi"}],"container":"c1","stop_sequences":null}`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"container":"c1"}`
	if got := string(r.Body.Bytes()); got != want {
		t.Fatalf("body %s, want %s", got, want)
	}
}

// Blocks and tools aigate does not translate are read for pass-through to a
// provider that speaks Messages; Chat refuses them.
func TestParseKeepsServerToolsAndOtherBlocks(t *testing.T) {
	r, err := Parse([]byte(`{"model":"m","max_tokens":5,
		"messages":[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBE"}}]},
		            {"role":"assistant","content":[{"type":"server_tool_use","id":"s1","name":"web_search","input":{"query":"q"}}]}],
		"tools":[{"type":"web_search_20250305","name":"web_search","max_uses":5}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if !r.tools[0].server || r.messages[0].blocks[0].typ != "document" {
		t.Fatalf("read tools %+v, blocks %+v", r.tools, r.messages[0].blocks)
	}
}

package responses_test

import (
	"encoding/json"
	"testing"

	"github.com/aigate/aigate/aiapi/ijson"
	"github.com/aigate/aigate/aiapi/responses"
)

// FuzzParse checks that whatever Parse admits re-encodes to a body it
// admits again with the same reading, and that Chat either refuses it or
// makes a chat body that every JSON reader reads one way.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`{"model":"m","input":"hi"}`,
		`{"model":"m","instructions":"be brief","input":[{"role":"user","content":[{"type":"input_text","text":"a"}]}],"max_output_tokens":5,"stream":true}`,
		`{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c","output":"x"}],"tools":[{"type":"function","name":"f","parameters":{}}],"tool_choice":"auto"}`,
		`{"model":"m","input":[{"type":"reasoning","summary":[]},{"role":"assistant","content":"x"}],"previous_response_id":"resp_1"}`,
		`{"model":"m","Input":"x"}`,
		`{"model":"m","input":"x","text":{"format":{"type":"json_schema","name":"s","schema":{}}}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := responses.Parse(data)
		if err != nil {
			return
		}
		again, err := responses.Parse(r.Body.Bytes())
		if err != nil {
			t.Fatalf("re-encoded body %s refused: %v", r.Body.Bytes(), err)
		}
		if again.Model != r.Model || again.MaxOutputTokens != r.MaxOutputTokens || again.Stream != r.Stream || again.PreviousResponseID != r.PreviousResponseID {
			t.Fatalf("re-encoded body read differently: %+v, then %+v", r, again)
		}
		chat, msgs, err := r.Chat(16)
		if err != nil {
			if _, ok := err.(*ijson.Error); !ok {
				t.Fatalf("Chat error %T %v, want *ijson.Error", err, err)
			}
			return
		}
		body := chat.Bytes()
		if _, err := ijson.Parse(body); err != nil {
			t.Fatalf("chat body %s: %v", body, err)
		}
		var c struct{ Messages []json.RawMessage }
		if err := json.Unmarshal(body, &c); err != nil || len(c.Messages) != len(msgs) || len(msgs) == 0 {
			t.Fatalf("chat body %s has %d messages, provider messages %d", body, len(c.Messages), len(msgs))
		}
	})
}

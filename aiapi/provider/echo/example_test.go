package echo_test

import (
	"context"
	"fmt"

	"github.com/tidwall/gjson"

	"github.com/aigate/aigate/aiapi/ijson"
	"github.com/aigate/aigate/aiapi/provider"
	"github.com/aigate/aigate/aiapi/provider/echo"
)

func ExampleModel_Chat() {
	m := &echo.Model{}
	resp, _ := m.Chat(context.Background(), &provider.ChatRequest{
		RequestID: "r1", ResponseModel: "echo", Body: ijson.MustParse(`{}`), MaxTokens: 100, N: 1,
		Messages: []provider.Message{{Role: "user", Text: "Hello,   world!"}},
	})
	fmt.Println(gjson.GetBytes(resp.Body, "choices.0.message.content"))
	fmt.Println(resp.Usage.PromptTokens, resp.Usage.CompletionTokens)
	// Output:
	// Hello, world!
	// 4 2
}

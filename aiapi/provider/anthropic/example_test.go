package anthropic_test

import (
	"fmt"

	"github.com/aigate/aigate/aiapi/provider/anthropic"
)

// Betas an upstream refuses are dropped from what is forwarded.
func ExampleClient_FilterBetas() {
	c := &anthropic.Client{RefusedBetas: []string{"context-1m-*"}}
	fmt.Println(c.FilterBetas([]string{"context-1m-2025-08-07, interleaved-thinking-2025-05-14", "fine-grained-tool-streaming-2025-05-14"}))
	// Output: interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14
}

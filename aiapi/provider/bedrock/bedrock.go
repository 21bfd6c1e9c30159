// Package bedrock is the provider for Amazon Bedrock models, through the
// Converse and ConverseStream APIs of aws-sdk-go-v2's bedrockruntime: it
// translates OpenAI chat requests (text only) into Converse requests and the
// answers back into OpenAI's shapes, usage included.
//
// System messages become Converse's system prompt; user and assistant
// messages its conversation (consecutive messages of one role are merged,
// as Converse wants turns to alternate). Images, audio, tools and
// embeddings are not translated: such requests are refused with a 400.
// Errors show the caller neither the endpoint nor the credentials.
package bedrock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"

	"github.com/aigate/aigate/aiapi/provider"
)

// Runtime is the part of *bedrockruntime.Client the provider uses.
type Runtime interface {
	Converse(ctx context.Context, in *bedrockruntime.ConverseInput, opts ...func(*bedrockruntime.Options)) (*bedrockruntime.ConverseOutput, error)
	ConverseStream(ctx context.Context, in *bedrockruntime.ConverseStreamInput, opts ...func(*bedrockruntime.Options)) (*bedrockruntime.ConverseStreamOutput, error)
}

// Client is the Bedrock provider. Safe for concurrent use.
type Client struct {
	// Runtime calls Bedrock. Required: a *bedrockruntime.Client, e.g. from
	// NewRuntime.
	Runtime Runtime
	// Now is the clock for "created". Nil: time.Now.
	Now func() time.Time
}

var _ provider.Provider = (*Client)(nil)

// NewRuntime returns a Bedrock Runtime client with the default AWS
// configuration (environment, shared files, the Lambda's role) for region
// ("" keeps the configured one). endpoint, when set, replaces Bedrock's
// endpoint (a VPC endpoint, or a local stand-in in tests). The SDK's own
// retries are off: the caller (an OpenAI client) retries, and a retry
// inside would hold the caller's reservation for longer.
func NewRuntime(ctx context.Context, region, endpoint string) (*bedrockruntime.Client, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("bedrock: load AWS configuration: %w", err)
	}
	return NewRuntimeFromConfig(cfg, endpoint), nil
}

// NewRuntimeFromConfig is NewRuntime with a given AWS configuration.
func NewRuntimeFromConfig(cfg aws.Config, endpoint string) *bedrockruntime.Client {
	return bedrockruntime.NewFromConfig(cfg, func(o *bedrockruntime.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.RetryMaxAttempts = 1
	})
}

func (c *Client) created() int64 {
	if c.Now != nil {
		return c.Now().Unix()
	}
	return time.Now().Unix()
}

// converse translates the request.
func converse(r *provider.ChatRequest) ([]types.SystemContentBlock, []types.Message, *types.InferenceConfiguration, error) {
	var (
		system []types.SystemContentBlock
		msgs   []types.Message
	)
	for _, m := range r.Messages {
		if m.NonText {
			return nil, nil, nil, provider.Errorf(provider.BadRequest, "model %s takes text messages only", r.ResponseModel)
		}
		var role types.ConversationRole
		switch m.Role {
		case "system", "developer":
			system = append(system, &types.SystemContentBlockMemberText{Value: m.Text})
			continue
		case "user":
			role = types.ConversationRoleUser
		case "assistant":
			role = types.ConversationRoleAssistant
		default:
			return nil, nil, nil, provider.Errorf(provider.BadRequest, "model %s does not take %q messages", r.ResponseModel, m.Role)
		}
		block := &types.ContentBlockMemberText{Value: m.Text}
		if n := len(msgs); n > 0 && msgs[n-1].Role == role {
			msgs[n-1].Content = append(msgs[n-1].Content, block)
			continue
		}
		msgs = append(msgs, types.Message{Role: role, Content: []types.ContentBlock{block}})
	}
	if r.N > 1 {
		return nil, nil, nil, provider.Errorf(provider.BadRequest, "model %s answers with one choice only (n=1)", r.ResponseModel)
	}
	inf := &types.InferenceConfiguration{MaxTokens: aws.Int32(int32(min(r.MaxTokens, math.MaxInt32))), StopSequences: r.Stop}
	if r.Temperature != nil {
		inf.Temperature = aws.Float32(float32(*r.Temperature))
	}
	if r.TopP != nil {
		inf.TopP = aws.Float32(float32(*r.TopP))
	}
	return system, msgs, inf, nil
}

// finishReason maps Converse's stop reason to OpenAI's finish_reason.
func finishReason(s types.StopReason) string {
	switch s {
	case types.StopReasonMaxTokens, types.StopReasonModelContextWindowExceeded:
		return "length"
	case types.StopReasonToolUse:
		return "tool_calls"
	case types.StopReasonContentFiltered, types.StopReasonGuardrailIntervened:
		return "content_filter"
	default:
		return "stop"
	}
}

func usageOf(u *types.TokenUsage) *provider.Usage {
	if u == nil {
		return nil
	}
	return &provider.Usage{
		PromptTokens:     int64(aws.ToInt32(u.InputTokens)),
		CompletionTokens: int64(aws.ToInt32(u.OutputTokens)),
	}
}

// failure turns an SDK error into an *provider.Error (or the context's
// error when the caller went away).
func failure(ctx context.Context, r *provider.ChatRequest, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(ctxErr, context.DeadlineExceeded) {
		return ctxErr
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "ValidationException":
			msg := ae.ErrorMessage()
			if len(msg) > 512 {
				msg = msg[:512]
			}
			if r.Model != "" && r.Model != r.ResponseModel {
				msg = strings.ReplaceAll(msg, r.Model, r.ResponseModel)
			}
			return &provider.Error{Kind: provider.BadRequest, Message: msg, Err: err}
		case "ModelTimeoutException":
			return &provider.Error{Kind: provider.Timeout, Message: "the model did not answer in time", Err: err}
		}
		return provider.Wrap(provider.Upstream, fmt.Sprintf("the upstream failed (%s)", ae.ErrorCode()), err)
	}
	return provider.Wrap(provider.Upstream, "the upstream failed", err)
}

// Chat calls Converse.
func (c *Client) Chat(ctx context.Context, r *provider.ChatRequest) (*provider.Response, error) {
	system, msgs, inf, err := converse(r)
	if err != nil {
		return nil, err
	}
	out, err := c.Runtime.Converse(ctx, &bedrockruntime.ConverseInput{
		ModelId: aws.String(r.Model), System: system, Messages: msgs, InferenceConfig: inf,
	})
	if err != nil {
		return nil, failure(ctx, r, err)
	}
	msg, ok := out.Output.(*types.ConverseOutputMemberMessage)
	if !ok {
		return nil, &provider.Error{Kind: provider.Upstream, Message: "the upstream's answer is malformed",
			Err: fmt.Errorf("bedrock: output of type %T", out.Output)}
	}
	var text strings.Builder
	for _, b := range msg.Value.Content {
		if t, ok := b.(*types.ContentBlockMemberText); ok {
			text.WriteString(t.Value)
		}
	}
	u := usageOf(out.Usage)
	var report provider.Usage
	if u != nil {
		report = *u
	}
	return &provider.Response{
		Body:        provider.CompletionBody("chatcmpl-"+r.RequestID, r.ResponseModel, c.created(), text.String(), finishReason(out.StopReason), report),
		Usage:       u,
		OutputBytes: int64(text.Len()),
	}, nil
}

// ChatStream calls ConverseStream.
func (c *Client) ChatStream(ctx context.Context, r *provider.ChatRequest) (provider.Stream, error) {
	system, msgs, inf, err := converse(r)
	if err != nil {
		return nil, err
	}
	out, err := c.Runtime.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{
		ModelId: aws.String(r.Model), System: system, Messages: msgs, InferenceConfig: inf,
	})
	if err != nil {
		return nil, failure(ctx, r, err)
	}
	return &stream{
		ctx: ctx, req: r, events: out.GetStream(),
		chunks: provider.Chunks{ID: "chatcmpl-" + r.RequestID, Model: r.ResponseModel, Created: c.created()},
	}, nil
}

type stream struct {
	ctx     context.Context
	req     *provider.ChatRequest
	events  *bedrockruntime.ConverseStreamEventStream
	chunks  provider.Chunks
	stopped bool // messageStop seen
	done    bool
}

func (s *stream) Next() (provider.Chunk, error) {
	for !s.done {
		ev, ok := <-s.events.Events()
		if !ok {
			s.done = true
			if err := s.events.Err(); err != nil {
				return provider.Chunk{}, failure(s.ctx, s.req, err)
			}
			if err := s.ctx.Err(); err != nil {
				return provider.Chunk{}, failure(s.ctx, s.req, err)
			}
			if !s.stopped {
				return provider.Chunk{}, provider.Wrap(provider.Upstream, "the upstream's stream broke off", io.ErrUnexpectedEOF)
			}
			break
		}
		switch v := ev.(type) {
		case *types.ConverseStreamOutputMemberMessageStart:
			return provider.Chunk{Data: s.chunks.Role()}, nil
		case *types.ConverseStreamOutputMemberContentBlockDelta:
			if t, ok := v.Value.Delta.(*types.ContentBlockDeltaMemberText); ok {
				return provider.Chunk{Data: s.chunks.Text(t.Value), OutputBytes: int64(len(t.Value))}, nil
			}
		case *types.ConverseStreamOutputMemberMessageStop:
			s.stopped = true
			return provider.Chunk{Data: s.chunks.Finish(finishReason(v.Value.StopReason))}, nil
		case *types.ConverseStreamOutputMemberMetadata:
			if u := usageOf(v.Value.Usage); u != nil {
				return provider.Chunk{Data: s.chunks.Usage(*u), Usage: u, UsageOnly: true}, nil
			}
		}
	}
	return provider.Chunk{}, io.EOF
}

func (s *stream) Close() error {
	s.done = true
	return s.events.Close()
}

// Embeddings is not offered through Converse.
func (c *Client) Embeddings(ctx context.Context, r *provider.EmbeddingsRequest) (*provider.Response, error) {
	return nil, provider.Errorf(provider.BadRequest, "model %s does not offer embeddings", r.ResponseModel)
}

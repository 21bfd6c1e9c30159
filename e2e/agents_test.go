package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The real AI clients people point at aigate, installed by the repository's
// pinned package.json (npm ci): Claude Code speaks POST /v1/messages,
// Codex CLI POST /v1/responses. The facts about them these tests rely on
// (captured from 2.1.328 and 0.169.0 against a logging server):
//   - Claude Code sends one streamed POST /v1/messages?beta=true per -p run
//     whose last user message is a <system-reminder> text block followed by
//     the prompt, so echo answers with the reminder's words and then the
//     prompt's: the test looks for the prompt's distinctive word.
//   - Codex sends one streamed POST /v1/responses whose last user message is
//     the prompt alone, so echo answers with the prompt word for word, and
//     prints the finished output item on stdout (its banner and the prompt
//     go to stderr).

// agentPrompt is what both agents are asked; "pelican" appears nowhere in
// either agent's system prompt or tools, so finding it in the answer means
// the echo model's answer came back through aigate.
const (
	agentPrompt = "say hi to the pelican"
	agentWord   = "pelican"
)

// agentTimeout bounds each agent run: on a refused call both agents retry
// with backoff (Claude Code for minutes), and a hung run must fail the test,
// not the suite's deadline.
const agentTimeout = 120 * time.Second

// agentBin is the agent's executable from node_modules/.bin. A missing one
// fails the test: these clients are what the AI API is for, so not running
// them is not a pass.
func agentBin(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "node_modules", ".bin", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is not installed (%v): run `npm ci` at the repository root (package.json pins it)", name, err)
	}
	return p
}

// runAgent runs an agent with only the given environment (plus PATH, and a
// HOME of its own so no user configuration or credentials are read), an
// empty stdin, and a bounded time; it returns stdout and fails the test
// with both outputs if the agent fails.
func runAgent(t *testing.T, env []string, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), agentTimeout)
	defer cancel()
	home := t.TempDir()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = home
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}, env...)
	// The agents start helpers (codex.js execs the native codex): kill the
	// whole group on timeout so no child keeps the output pipes open.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v (context: %v)\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), args, err, ctx.Err(), stdout.String(), stderr.String())
	}
	return stdout.String()
}

// agentUsage stops the server (a graceful stop settles every request it
// answered) and returns the ledger's rows for the key.
func agentUsage(t *testing.T, p *serveProc, data, keyID string) []usageRowJSON {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(t, 30*time.Second); err != nil {
		t.Fatalf("aigate serve after SIGTERM: %v", err)
	}
	var rows []usageRowJSON
	out := aigate(t, data, "usage", "--key", keyID, "--json")
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("usage --json: %v: %s", err, out)
	}
	return rows
}

// usageRowJSON is a row of `aigate usage --json`.
type usageRowJSON struct {
	KeyID            string `json:"key_id"`
	Model            string `json:"model"`
	Requests         int64  `json:"requests"`
	PromptTokens     int64  `json:"prompt_tokens"`
	CompletionTokens int64  `json:"completion_tokens"`
}

// checkAgentUsage asserts the ledger holds exactly one echo call for the key
// (each agent makes one call per run when it is answered) and that it was
// settled from the answer, not left at zero.
func checkAgentUsage(t *testing.T, rows []usageRowJSON, keyID string, minCompletion int64) {
	t.Helper()
	if len(rows) != 1 || rows[0].KeyID != keyID || rows[0].Model != "echo" || rows[0].Requests != 1 {
		t.Fatalf("usage for key %s = %+v, want one echo request", keyID, rows)
	}
	if r := rows[0]; r.PromptTokens < 1 || r.CompletionTokens < minCompletion {
		t.Errorf("usage %+v: want prompt tokens and at least %d completion tokens (the words echoed)", r, minCompletion)
	}
}

// TestClaudeCodeThroughAigate runs `claude -p` against aigate serve's echo
// model, once with each of Claude Code's two ways to send a key:
// ANTHROPIC_AUTH_TOKEN (Authorization: Bearer) and ANTHROPIC_API_KEY
// (x-api-key).
func TestClaudeCodeThroughAigate(t *testing.T) {
	claude := agentBin(t, "claude")
	for _, authVar := range []string{"ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY"} {
		t.Run(authVar, func(t *testing.T) {
			data := t.TempDir()
			p := startServe(t, data)
			id, key := createKey(t, data, "--name", "claude-code", "--models", "echo")
			out := runAgent(t, []string{
				"ANTHROPIC_BASE_URL=" + p.base,
				authVar + "=" + key,
				// Without these it probes HEAD /api/hello and looks up
				// api.anthropic.com; with them its only call is to aigate.
				"DISABLE_TELEMETRY=1",
				"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
			}, claude, "-p", agentPrompt, "--model", "echo")
			// The answer ends with the prompt's words (after the
			// system-reminder's, which Claude Code puts in the same turn).
			if !strings.Contains(out, agentWord) {
				t.Fatalf("claude printed %q, want the echo of a prompt containing %q", out, agentWord)
			}
			checkAgentUsage(t, agentUsage(t, p, data, id), id, int64(len(strings.Fields(agentPrompt))))
		})
	}
}

// TestCodexThroughAigate runs `codex exec` with aigate serve as a custom
// model provider speaking the Responses API (wire_api "responses").
func TestCodexThroughAigate(t *testing.T) {
	codex := agentBin(t, "codex")
	data := t.TempDir()
	p := startServe(t, data)
	id, key := createKey(t, data, "--name", "codex", "--models", "echo")
	codexHome := t.TempDir()
	out := runAgent(t, []string{"AIGATE_KEY=" + key, "CODEX_HOME=" + codexHome}, codex,
		"exec", "--skip-git-repo-check",
		"-c", "model_provider=aigate",
		"-c", `model_providers.aigate.name="aigate"`,
		"-c", `model_providers.aigate.base_url="`+p.base+`/v1"`,
		"-c", `model_providers.aigate.env_key="AIGATE_KEY"`,
		"-c", `model_providers.aigate.wire_api="responses"`,
		// Without these it looks up github.com, api.github.com, chatgpt.com
		// and ab.chatgpt.com; with them its only call is to aigate.
		"-c", "analytics.enabled=false",
		"-c", "features.plugins=false",
		"-c", "check_for_update_on_startup=false",
		"-m", "echo", agentPrompt)
	// Codex's last user message is the prompt alone: echo repeats it.
	if strings.TrimSpace(out) != agentPrompt {
		t.Fatalf("codex printed %q, want the echo model's answer %q", out, agentPrompt)
	}
	checkAgentUsage(t, agentUsage(t, p, data, id), id, int64(len(strings.Fields(agentPrompt))))
}

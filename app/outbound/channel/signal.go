package channel

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os/exec"
	"strings"
	"time"
)

// signalMaxText keeps messages within what Signal shows as one message.
const signalMaxText = 2000

// signalWaitDelay bounds how long Send waits for signal-cli's output after
// the context killed it: the launcher is a shell script whose JVM child can
// hold the pipes open.
const signalWaitDelay = 2 * time.Second

// Signal sends through signal-cli, running
//
//	signal-cli -u <User> send -m <message> <Recipient>
//
// directly (no shell), so the message is never interpreted.
type Signal struct {
	// CliPath defaults to "signal-cli" looked up in PATH.
	CliPath string
	// User is the registered sending account, Recipient the destination;
	// both as E.164 numbers.
	User, Recipient string
}

var _ Sender = Signal{}

// Stderr fragments that mean the number itself is wrong; anything else
// (network, rate limits, a locked config) may clear up on retry.
var signalPermanentStderr = []string{
	"unregistered user",
	"is not registered",
	"invalid number",
	"invalid phone number",
	"invalid recipient",
}

// Send runs signal-cli. Receipt.ID is the message timestamp signal-cli prints.
func (s Signal) Send(ctx context.Context, m Message) (Receipt, error) {
	if s.User == "" || s.Recipient == "" {
		return Receipt{}, permanent(0, "signal: user and recipient are required")
	}
	if strings.HasPrefix(s.User, "-") || strings.HasPrefix(s.Recipient, "-") {
		return Receipt{}, permanent(0, "signal: user and recipient must be phone numbers")
	}
	text := Truncate(plainText(m), signalMaxText)
	if text == "" {
		return Receipt{}, permanent(0, "signal: empty message")
	}

	args := []string{"-u", s.User, "send"}
	if strings.HasPrefix(text, "-") {
		// signal-cli's argument parser takes any argument starting with "-"
		// for a flag ("-m: expected one argument"); the attached form is
		// read as a value.
		args = append(args, "--message="+text)
	} else {
		args = append(args, "-m", text)
	}
	args = append(args, s.Recipient)

	path := s.CliPath
	if path == "" {
		path = "signal-cli"
	}
	var stdout, stderr cappedBuffer
	stdout.max, stderr.max = 4<<10, 4<<10
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.WaitDelay = signalWaitDelay

	err := cmd.Run()
	if err == nil {
		return Receipt{ID: lastLine(stdout.String()), Detail: "sent via signal-cli"}, nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return Receipt{}, temporary(0, "signal: %w: %w", ctxErr, err)
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		e := temporary(0, "signal: run %s: %w", path, err)
		// A missing or non-executable binary is an installation problem.
		e.Permanent = errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission)
		return Receipt{}, e
	}
	msg := strings.Join(strings.Fields(stderr.String()), " ")
	e := temporary(exitErr.ExitCode(), "signal: signal-cli exited with status %d: %s", exitErr.ExitCode(), Truncate(msg, 500))
	lower := strings.ToLower(msg)
	for _, frag := range signalPermanentStderr {
		if strings.Contains(lower, frag) {
			e.Permanent = true
			break
		}
	}
	return Receipt{}, e
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[i+1:])
	}
	return s
}

// cappedBuffer keeps the first max bytes written and discards the rest, so a
// chatty child cannot grow our memory.
type cappedBuffer struct {
	buf bytes.Buffer
	max int
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (c *cappedBuffer) String() string { return c.buf.String() }

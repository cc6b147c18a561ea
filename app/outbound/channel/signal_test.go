package channel_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/oncall/pager/app/outbound/channel"
	"github.com/oncall/pager/internal/testskip"
)

// fakeSignalCLI writes a stand-in signal-cli that records its argv,
// NUL-separated so newlines inside arguments survive, then runs tail.
// Tests run sequentially: exec'ing a freshly written file while another
// goroutine forks can fail with ETXTBSY.
func fakeSignalCLI(t *testing.T, tail string) (path, argvFile string) {
	t.Helper()
	if runtime.GOOS == "windows" {
		testskip.Layer(t, "signal-cli stand-in", "needs a POSIX shell")
	}
	dir := t.TempDir()
	argvFile = filepath.Join(dir, "argv")
	script := "#!/bin/sh\n" +
		": > '" + argvFile + "'\n" +
		"for a in \"$@\"; do printf '%s\\0' \"$a\" >> '" + argvFile + "'; done\n" +
		tail + "\n"
	path = filepath.Join(dir, "signal-cli")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, argvFile
}

func readArgv(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("stand-in was not run: %v", err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

func equalArgv(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("argv = %q\nwant %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("argv[%d] = %q\nwant    %q", i, got[i], want[i])
		}
	}
}

func TestSignalPassesMessageLiterally(t *testing.T) {
	cli, argv := fakeSignalCLI(t, "echo 1700000000123\nexit 0")
	canary := filepath.Join(t.TempDir(), "pwned")
	hostile := "it's \"down\"\nline two `touch " + canary + "` $(touch " + canary + ") ; touch " + canary + " | cat $HOME \\n '"

	s := channel.Signal{CliPath: cli, User: "+12025551234", Recipient: "+12025559999"}
	rcpt, err := s.Send(context.Background(), channel.Message{Subject: "ALERT", Body: hostile})
	if err != nil {
		t.Fatal(err)
	}
	equalArgv(t, readArgv(t, argv), []string{"-u", "+12025551234", "send", "-m", "ALERT\n" + hostile, "+12025559999"})
	if _, err := os.Stat(canary); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("message was interpreted by a shell")
	}
	if rcpt.ID != "1700000000123" {
		t.Errorf("receipt ID %q, want signal-cli's timestamp", rcpt.ID)
	}
}

func TestSignalMessageStartingWithDash(t *testing.T) {
	// signal-cli would read "-m -5..." as a missing value followed by a flag.
	cli, argv := fakeSignalCLI(t, "exit 0")
	s := channel.Signal{CliPath: cli, User: "+1", Recipient: "+2"}
	if _, err := s.Send(context.Background(), channel.Message{Body: "-5 °C in the server room"}); err != nil {
		t.Fatal(err)
	}
	equalArgv(t, readArgv(t, argv), []string{"-u", "+1", "send", "--message=-5 °C in the server room", "+2"})
}

func TestSignalTrimsLongMessages(t *testing.T) {
	cli, argv := fakeSignalCLI(t, "exit 0")
	s := channel.Signal{CliPath: cli, User: "+1", Recipient: "+2"}
	if _, err := s.Send(context.Background(), channel.Message{Body: strings.Repeat("ж", 3000)}); err != nil {
		t.Fatal(err)
	}
	msg := readArgv(t, argv)[4]
	if n := utf8.RuneCountInString(msg); n != 2000 || !utf8.ValidString(msg) || !strings.HasSuffix(msg, "...") {
		t.Fatalf("message has %d runes", n)
	}
}

func TestSignalUnregisteredIsPermanent(t *testing.T) {
	cli, _ := fakeSignalCLI(t, `echo 'Failed to send message: Unregistered user "+12025559999"' >&2; exit 1`)
	_, err := channel.Signal{CliPath: cli, User: "+1", Recipient: "+12025559999"}.
		Send(context.Background(), channel.Message{Body: "x"})
	var ce *channel.Error
	if !errors.As(err, &ce) || !ce.Permanent || ce.Code != 1 {
		t.Fatalf("err = %v, want permanent with exit status 1", err)
	}
	if !strings.Contains(err.Error(), "Unregistered user") {
		t.Errorf("stderr missing from error: %v", err)
	}
}

func TestSignalOtherFailuresAreTemporary(t *testing.T) {
	cli, _ := fakeSignalCLI(t, `echo 'IOException: connection reset by peer' >&2; exit 3`)
	_, err := channel.Signal{CliPath: cli, User: "+1", Recipient: "+2"}.Send(context.Background(), channel.Message{Body: "x"})
	var ce *channel.Error
	if !errors.As(err, &ce) || ce.Permanent || ce.Code != 3 || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("err = %v, want temporary with exit status 3 and stderr", err)
	}
}

func TestSignalMissingBinaryIsPermanent(t *testing.T) {
	_, err := channel.Signal{CliPath: filepath.Join(t.TempDir(), "nope"), User: "+1", Recipient: "+2"}.
		Send(context.Background(), channel.Message{Body: "x"})
	if !channel.IsPermanent(err) {
		t.Fatalf("err = %v, want permanent", err)
	}
}

func TestSignalContextCancelsTheProcess(t *testing.T) {
	cli, _ := fakeSignalCLI(t, "exec sleep 30")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := channel.Signal{CliPath: cli, User: "+1", Recipient: "+2"}.Send(ctx, channel.Message{Body: "x"})
	if !errors.Is(err, context.DeadlineExceeded) || channel.IsPermanent(err) {
		t.Fatalf("err = %v, want temporary deadline exceeded", err)
	}
}

func TestSignalRejectsBadConfigWithoutRunning(t *testing.T) {
	cli, argv := fakeSignalCLI(t, "exit 0")
	for name, s := range map[string]channel.Signal{
		"no recipient":   {CliPath: cli, User: "+1"},
		"flag recipient": {CliPath: cli, User: "+1", Recipient: "--help"},
		"flag user":      {CliPath: cli, User: "-v", Recipient: "+2"},
	} {
		if _, err := s.Send(context.Background(), channel.Message{Body: "x"}); !channel.IsPermanent(err) {
			t.Errorf("%s: err = %v, want permanent", name, err)
		}
	}
	if _, err := (channel.Signal{CliPath: cli, User: "+1", Recipient: "+2"}).Send(context.Background(), channel.Message{}); !channel.IsPermanent(err) {
		t.Errorf("empty message: err = %v, want permanent", err)
	}
	if b, err := os.ReadFile(argv); err == nil || len(bytes.TrimSpace(b)) > 0 {
		t.Fatal("signal-cli ran for an invalid configuration")
	}
}

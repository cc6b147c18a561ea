package cli

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// logFlushEvery bounds how long a log line may sit in the buffer: long
// enough that a busy pager writes its lines in a few large writes instead
// of one system call per line, short enough that someone tailing the log
// sees a request within a blink of it being answered.
const logFlushEvery = 500 * time.Millisecond

// logWriter buffers the server's log output. Lines are written whole (each
// Write is one line from slog) and in order; the buffer is flushed when
// full, every logFlushEvery, and by Close, which serve runs on every way
// out, so shutting down loses no line. A crash (not a shutdown) can lose
// at most the last logFlushEvery of lines.
type logWriter struct {
	mu   sync.Mutex
	buf  *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

func newLogWriter(w io.Writer, every time.Duration) *logWriter {
	t := time.NewTicker(every)
	lw := startLogWriter(w, t.C)
	go func() { <-lw.done; t.Stop() }()
	return lw
}

// startLogWriter flushes on every tick (tests send the ticks).
func startLogWriter(w io.Writer, tick <-chan time.Time) *logWriter {
	lw := &logWriter{buf: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go lw.flushLoop(tick)
	return lw
}

func (lw *logWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.buf.Write(p)
}

// Flush writes out what is buffered.
func (lw *logWriter) Flush() error {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.buf.Flush()
}

func (lw *logWriter) flushLoop(tick <-chan time.Time) {
	defer close(lw.done)
	for {
		select {
		case <-lw.stop:
			return
		case <-tick:
			_ = lw.Flush()
		}
	}
}

// Close stops the periodic flush and flushes the rest. Writes after Close
// still land in the buffer, so call it last.
func (lw *logWriter) Close() error {
	select {
	case <-lw.stop:
	default:
		close(lw.stop)
	}
	<-lw.done
	return lw.Flush()
}

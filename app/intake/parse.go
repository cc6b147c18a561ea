package intake

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
)

// MaxBodyBytes is the largest webhook body accepted: PagerDuty's documented
// size limit for an Events API v2 payload (512 KB), applied to every dialect.
const MaxBodyBytes = 512 << 10

// ValidationError lists everything wrong with a payload, so the sender can
// fix it in one round trip. The HTTP layer answers it with 400.
type ValidationError struct {
	Errors []string
}

func (e *ValidationError) Error() string {
	return "intake: invalid event: " + strings.Join(e.Errors, "; ")
}

func (e *ValidationError) add(msg string) { e.Errors = append(e.Errors, msg) }

// orNil returns e when it holds problems.
func (e *ValidationError) orNil() error {
	if len(e.Errors) == 0 {
		return nil
	}
	return e
}

// newDedupKey is a random UUID (version 4), the form PagerDuty generates for
// a trigger without a dedup_key.
func newDedupKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n]
}

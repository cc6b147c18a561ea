package channel

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// Error is a failed delivery together with whether retrying can help.
type Error struct {
	// Permanent means the same request will keep failing (bad credentials,
	// unknown recipient, malformed configuration); retrying is pointless.
	Permanent bool
	// Code is what the peer answered: an HTTP status, an SMTP reply code or
	// signal-cli's exit status. Zero when no answer was obtained.
	Code int
	Err  error
}

func (e *Error) Error() string {
	kind := "temporary"
	if e.Permanent {
		kind = "permanent"
	}
	return fmt.Sprintf("%v (%s)", e.Err, kind)
}

func (e *Error) Unwrap() error { return e.Err }

// IsPermanent reports whether err is a delivery failure that retrying will
// not fix. Errors that are not *Error (and nil) are treated as temporary.
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Permanent
}

func permanent(code int, format string, args ...any) *Error {
	return &Error{Permanent: true, Code: code, Err: fmt.Errorf(format, args...)}
}

func temporary(code int, format string, args ...any) *Error {
	return &Error{Code: code, Err: fmt.Errorf(format, args...)}
}

// permanentHTTPStatus classifies a non-success HTTP status. Client errors
// mean the request itself is wrong, except 408 and 429, which ask us to come
// back later. A redirect is permanent because we deliberately do not follow
// them (see postHTTP).
func permanentHTTPStatus(code int) bool {
	switch {
	case code == 408 || code == 429:
		return false
	case code >= 500:
		return false
	default:
		return true
	}
}

// permanentTransport reports transport errors that will not go away by
// themselves: a certificate that does not verify needs an operator.
func permanentTransport(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	return errors.As(err, &verify) || errors.As(err, &unknown) ||
		errors.As(err, &hostname) || errors.As(err, &invalid)
}

package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"

	"github.com/labstack/echo/v4"
)

// RequestIDHeader carries a request's id in and out: a proxy or a client
// may name the request, and the answer always names it, so one id finds
// every log line of the request.
const RequestIDHeader = "X-Request-Id"

// maxRequestID bounds an incoming id: longer ones are replaced, so a
// client cannot make every log line of its request long.
const maxRequestID = 64

type requestIDKey struct{}

// RequestID is the id of the request ctx belongs to, "" outside one.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// WithRequestID returns ctx carrying id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// WrapRequestID gives each request an id: the incoming X-Request-Id when it
// is sane (1 to 64 letters, digits, '-', '_', '.', ':'), else a new random
// one. The id is in the request's context, where the logger finds it for
// every line logged with that context, and in the answer's header.
func WrapRequestID() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			id := r.Header.Get(RequestIDHeader)
			if !saneRequestID(id) {
				id = newRequestID()
			}
			c.Response().Header().Set(RequestIDHeader, id)
			c.SetRequest(r.WithContext(WithRequestID(r.Context(), id)))
			return next(c)
		}
	}
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestID {
		return false
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9',
			b == '-', b == '_', b == '.', b == ':':
		default:
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// RequestIDLogs wraps h so every line logged with a request's context
// carries request_id.
func RequestIDLogs(h slog.Handler) slog.Handler { return requestIDHandler{h} }

type requestIDHandler struct{ slog.Handler }

func (r requestIDHandler) Handle(ctx context.Context, rec slog.Record) error {
	if id := RequestID(ctx); id != "" {
		rec.AddAttrs(slog.String("request_id", id))
	}
	return r.Handler.Handle(ctx, rec)
}

func (r requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{r.Handler.WithAttrs(as)}
}

func (r requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{r.Handler.WithGroup(name)}
}

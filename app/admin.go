package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/oncall/pager/app/health"
	"github.com/oncall/pager/app/server"
)

// newAdmin is the admin listener's router (ADMIN_LISTEN_ADDR): metrics,
// liveness and readiness with its detail, for the operator's machine only.
func (a *App) newAdmin() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.IPExtractor = echo.ExtractIPDirect()
	e.Use(middleware.Recover())
	e.GET("/metrics", echo.WrapHandler(a.Metrics.Handler()))
	e.GET("/livez", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": health.StatusOK})
	})
	// Readiness with its detail (store, config key, errors, the config's
	// problems, the write probe) and the job backlog: what the public
	// /readyz leaves out.
	ready := func(c echo.Context) error {
		r := a.health.Readiness()
		r.Detail["jobs"] = a.jobsDetail()
		code := http.StatusOK
		if !r.Ready() {
			code = http.StatusServiceUnavailable
		}
		return c.JSON(code, r.Detail)
	}
	e.GET("/readyz", ready)
	e.GET("/healthz", ready)
	return e
}

// jobsDetail is the job queue in the health detail: how much is queued, the
// oldest job's age and the next step due (from the runner's last scan, no
// store call).
func (a *App) jobsDetail() map[string]any {
	b := a.Jobs.Backlog()
	d := map[string]any{"queued": b.Queued}
	now := a.now()
	if !b.Oldest.IsZero() {
		d["oldest_created_at"] = b.Oldest.UTC()
		d["oldest_age_seconds"] = int(now.Sub(b.Oldest).Seconds())
	}
	if !b.NextDue.IsZero() {
		d["next_due_at"] = b.NextDue.UTC()
		d["next_due_job"] = b.NextDueJob
		d["next_due_in_seconds"] = int(b.NextDue.Sub(now).Seconds())
	}
	return d
}

// listenAdmin opens the admin listener (ADMIN_LISTEN_ADDR), or none when
// the setting is empty.
func (a *App) listenAdmin() (net.Listener, error) {
	addr := a.Settings.AdminListenAddr
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("app: admin listener (ADMIN_LISTEN_ADDR=%s; set another address, or empty to turn it off): %w", addr, err)
	}
	host, _, _ := net.SplitHostPort(addr)
	if !isLoopback(host) {
		a.Log.Warn("the admin listener is reachable from other machines: it shows the store, the config's problems and errors; keep it behind a firewall", "addr", ln.Addr().String())
	}
	a.adminAddr.Store(ln.Addr().String())
	a.Log.Info("admin listener", "addr", ln.Addr().String(), "routes", "/metrics /livez /readyz /healthz")
	return ln, nil
}

// AdminAddr is where the admin listener listens, once Run opened it ("" before,
// or when it is off).
func (a *App) AdminAddr() string {
	s, _ := a.adminAddr.Load().(string)
	return s
}

func (a *App) serveAdmin(ctx context.Context, ln net.Listener) {
	srv := &http.Server{Handler: a.Admin, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, MaxHeaderBytes: server.MaxHeaderBytes}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		a.Log.Error("admin listener stopped", "err", err)
	}
}

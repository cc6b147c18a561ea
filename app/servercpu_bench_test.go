package app_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// serveEnv makes this test binary the pager under load for
// BenchmarkServerCPU (TestBenchServer), in a process of its own.
const serveEnv = "PAGER_BENCH_SERVE"

// TestBenchServer is not a test: it is the server BenchmarkServerCPU starts
// in a child process. It serves the bench pager (bare route included) until
// its stdin closes, and answers GET /bench/cpu with its own CPU time.
func TestBenchServer(t *testing.T) {
	if os.Getenv(serveEnv) == "" {
		t.Skip("the server process of BenchmarkServerCPU")
	}
	a := benchApp(t, nil)
	a.Echo.GET("/bench/cpu", func(c echo.Context) error {
		return c.String(http.StatusOK, strconv.FormatInt(int64(processCPU()), 10))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: a.Echo}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("listening %s\n", ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = srv.Close()
}

// BenchmarkServerCPU is issue 10's "server CPU per request" as it was
// measured: the pager in a process of its own, loaded over loopback by
// keep-alive clients (this process, the load tool), its CPU time read from
// the kernel. Everything the server spends on a request counts: net/http,
// the garbage collector, logging. Rounds of WHO and of the bare route
// alternate so both see the same machine; bare/who is the figure.
func BenchmarkServerCPU(b *testing.B) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchServer$", "-test.count=1")
	cmd.Env = append(os.Environ(), serveEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })
	addr := ""
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
			addr = a
			break
		}
	}
	if addr == "" {
		b.Fatal("the server process did not start")
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	base := "http://" + addr
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	serverCPU := func() time.Duration {
		resp, err := client.Get(base + "/bench/cpu")
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		n, err := strconv.ParseInt(string(body), 10, 64)
		if err != nil {
			b.Fatalf("cpu: %q", body)
		}
		return time.Duration(n)
	}
	const member, control = "+15555550101", "+15555550100"
	type target struct {
		path, want string
		p          *prepared
	}
	who := &target{path: "/msgcontrol/entry", want: "On call"}
	bare := &target{path: "/bare", want: "<Message>ok"}
	for _, t := range []*target{who, bare} {
		t.p = prepare(b, t.path, twilioSMSForm(member, control, "WHO"))
	}
	const clients, perClient = 8, 50
	round := func(t *target) time.Duration {
		start := serverCPU()
		var wg sync.WaitGroup
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var buf bytes.Buffer
				for range perClient {
					req, _ := http.NewRequest(http.MethodPost, base+t.path, bytes.NewReader(t.p.body))
					req.Header = t.p.req.Header
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					buf.Reset()
					_, _ = buf.ReadFrom(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK || !bytes.Contains(buf.Bytes(), []byte(t.want)) {
						b.Errorf("%s: %d %s", t.path, resp.StatusCode, buf.Bytes())
						return
					}
				}
			}()
		}
		wg.Wait()
		return serverCPU() - start
	}
	round(who) // warm both up: connections, pools, the WHO reply
	round(bare)
	var tw, tb time.Duration
	for b.Loop() {
		tw += round(who)
		tb += round(bare)
	}
	n := float64(b.N * clients * perClient)
	b.ReportMetric(float64(tw.Nanoseconds())/n, "who-cpu-ns")
	b.ReportMetric(float64(tb.Nanoseconds())/n, "bare-cpu-ns")
	b.ReportMetric(float64(tb)/float64(tw), "bare/who")
}

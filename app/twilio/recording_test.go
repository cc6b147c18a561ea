package twilio_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/oncall/pager/app/twilio"
	"github.com/oncall/pager/internal/mocktwilio"
)

const recSID = "RE0123456789abcdef0123456789abcdef"

func TestFetchRecording(t *testing.T) {
	mock := mocktwilio.New(t)
	c := newClient(t, mock)
	audio := bytes.Repeat([]byte("ID3\x04audio"), 1000)
	rec := mock.AddRecording(recSID, audio)
	data, ct, err := c.FetchRecording(t.Context(), rec)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, audio) || ct != "audio/mpeg" {
		t.Errorf("got %d bytes as %q", len(data), ct)
	}
	reqs := mock.Requests()
	if len(reqs) != 1 || reqs[0].Path != strings.TrimPrefix(rec, mock.URL())+".mp3" {
		t.Errorf("requests %+v, want one GET of the .mp3", reqs)
	}
}

func TestFetchRecordingKeepsAGivenExtension(t *testing.T) {
	mock := mocktwilio.New(t)
	c := newClient(t, mock)
	rec := mock.AddRecording(recSID, []byte("RIFF"))
	_, ct, err := c.FetchRecording(t.Context(), rec+".wav")
	if err != nil {
		t.Fatal(err)
	}
	if ct != "audio/x-wav" || !strings.HasSuffix(mock.Requests()[0].Path, "/"+recSID+".wav") {
		t.Errorf("content type %q, path %q", ct, mock.Requests()[0].Path)
	}
}

func TestFetchRecordingWithWrongCredentials(t *testing.T) {
	mock := mocktwilio.New(t)
	c := newClient(t, mock, func(cfg *twilio.Config) { cfg.AuthToken = "0123456789abcdef0123456789abcdef" })
	rec := mock.AddRecording(recSID, []byte("x"))
	_, _, err := c.FetchRecording(t.Context(), rec)
	var te *twilio.Error
	if !errors.As(err, &te) || te.Status != 401 || te.Code != 20003 || !twilio.IsPermanent(err) {
		t.Errorf("err %v", err)
	}
}

func TestFetchRecordingMissingIsNotFound(t *testing.T) {
	mock := mocktwilio.New(t)
	c := newClient(t, mock)
	_, _, err := c.FetchRecording(t.Context(), mock.URL()+"/2010-04-01/Accounts/"+mock.AccountSID()+"/Recordings/"+recSID)
	var te *twilio.Error
	if !errors.As(err, &te) || te.Status != 404 {
		t.Errorf("err %v", err)
	}
}

// authRecorder is a server outside Twilio that notes whether anyone handed
// it credentials.
type authRecorder struct {
	mu    sync.Mutex
	hits  int
	auths []string
}

func (a *authRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.hits++
	if h := r.Header.Get("Authorization"); h != "" {
		a.auths = append(a.auths, h)
	}
	w.Header().Set("Content-Type", "audio/mpeg")
	_, _ = io.WriteString(w, "foreign audio")
}

func TestFetchRecordingRefusesForeignHosts(t *testing.T) {
	mock := mocktwilio.New(t)
	foreign := &authRecorder{}
	foreignURL := newLoopbackServer(t, foreign)
	withBase := newClient(t, mock)
	realTwilio, err := twilio.New(twilio.Config{AccountSID: mock.AccountSID(), AuthToken: mock.AuthToken()})
	if err != nil {
		t.Fatal(err)
	}
	path := "/2010-04-01/Accounts/" + mock.AccountSID() + "/Recordings/" + recSID
	for name, tc := range map[string]struct {
		c   *twilio.Client
		url string
	}{
		"other loopback port":      {withBase, foreignURL + path},
		"other host, real Twilio":  {realTwilio, "https://evil.example.com" + path},
		"look-alike host":          {realTwilio, "https://api.twilio.com.evil.example" + path},
		"plain HTTP to Twilio":     {realTwilio, "http://api.twilio.com" + path},
		"odd port on Twilio":       {realTwilio, "https://api.twilio.com:8443" + path},
		"base URL over https":      {withBase, strings.Replace(mock.URL(), "http://", "https://", 1) + path},
		"other Twilio subdomain":   {realTwilio, "https://media.twilio.com" + path},
		"base host, real Twilio":   {realTwilio, mock.URL() + path},
		"foreign host, base given": {withBase, "https://evil.example.com" + path},
	} {
		_, _, err := tc.c.FetchRecording(t.Context(), tc.url)
		if !errors.Is(err, twilio.ErrUntrustedHost) || !twilio.IsPermanent(err) {
			t.Errorf("%s: %v", name, err)
		}
		if strings.Contains(err.Error(), mock.AuthToken()) {
			t.Errorf("%s: error reveals the token", name)
		}
	}
	if foreign.hits != 0 {
		t.Errorf("foreign server was contacted %d times", foreign.hits)
	}
	if n := len(mock.Requests()); n != 0 {
		t.Errorf("mock got %d requests", n)
	}
	if _, _, err := realTwilio.FetchRecording(t.Context(), "https://"+mock.AccountSID()+":"+mock.AuthToken()+"@api.twilio.com"+path); !errors.Is(err, twilio.ErrInvalidRequest) {
		t.Errorf("URL with user info: %v", err)
	}
}

// net/http keeps the Authorization header on a redirect to the same host
// name on another port; the client must not.
func TestFetchRecordingRedirectDropsCredentialsOffHost(t *testing.T) {
	foreign := &authRecorder{}
	foreignURL := newLoopbackServer(t, foreign)
	var sawAuthAfterLocalRedirect bool
	twilioSim := newLoopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/local.mp3"):
			http.Redirect(w, r, strings.Replace(r.URL.Path, "/local.mp3", "/"+recSID+".mp3", 1), http.StatusFound)
		case strings.HasSuffix(r.URL.Path, "/"+recSID+".mp3"):
			_, _, sawAuthAfterLocalRedirect = r.BasicAuth()
			http.Redirect(w, r, foreignURL+"/bucket/"+recSID+".mp3", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	c, err := twilio.New(twilio.Config{AccountSID: "AC0123456789abcdef0123456789abcdef", AuthToken: "0123456789abcdef0123456789abcdef", BaseURL: twilioSim})
	if err != nil {
		t.Fatal(err)
	}
	data, _, err := c.FetchRecording(t.Context(), twilioSim+"/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Recordings/local")
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "foreign audio" {
		t.Errorf("data %q", data)
	}
	if !sawAuthAfterLocalRedirect {
		t.Error("credentials were dropped on a redirect within the trusted host")
	}
	if foreign.hits != 1 || len(foreign.auths) != 0 {
		t.Errorf("foreign host: %d hits, Authorization headers %q", foreign.hits, foreign.auths)
	}
}

func TestFetchRecordingSizeCap(t *testing.T) {
	mock := mocktwilio.New(t)
	c := newClient(t, mock, func(cfg *twilio.Config) { cfg.MaxRecordingBytes = 1024 })
	exact := mock.AddRecording(recSID, make([]byte, 1024))
	if data, _, err := c.FetchRecording(t.Context(), exact); err != nil || len(data) != 1024 {
		t.Errorf("at the cap: %d bytes, %v", len(data), err)
	}
	over := mock.AddRecording("RE0123456789abcdef0123456789abcde0", make([]byte, 1025))
	if _, _, err := c.FetchRecording(t.Context(), over); !errors.Is(err, twilio.ErrRecordingTooLarge) || !twilio.IsPermanent(err) {
		t.Errorf("over the cap: %v", err)
	}
	// Without a Content-Length the cap must hold while reading.
	chunked := newLoopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 3 {
			_, _ = w.Write(make([]byte, 512))
			w.(http.Flusher).Flush()
		}
	}))
	c2, _ := twilio.New(twilio.Config{AccountSID: mock.AccountSID(), AuthToken: mock.AuthToken(), BaseURL: chunked, MaxRecordingBytes: 1024})
	if _, _, err := c2.FetchRecording(t.Context(), chunked+"/r"); !errors.Is(err, twilio.ErrRecordingTooLarge) {
		t.Errorf("streamed over the cap: %v", err)
	}
}

func TestDeleteRecording(t *testing.T) {
	mock := mocktwilio.New(t)
	c := newClient(t, mock)
	mock.AddRecording(recSID, []byte("x"))
	if err := c.DeleteRecording(t.Context(), recSID); err != nil {
		t.Fatal(err)
	}
	if mock.HasRecording(recSID) {
		t.Error("recording still exists")
	}
	if err := c.DeleteRecording(t.Context(), recSID); err != nil {
		t.Errorf("deleting an already deleted recording: %v", err)
	}
	reqs := mock.Requests()
	if len(reqs) != 2 || reqs[0].Method != http.MethodDelete || reqs[0].Status != http.StatusNoContent || reqs[1].Status != http.StatusNotFound {
		t.Errorf("requests %+v", reqs)
	}

	if err := c.DeleteRecording(t.Context(), "../Messages"); !errors.Is(err, twilio.ErrInvalidRequest) {
		t.Errorf("bad sid: %v", err)
	}
	mock.AddRecording(recSID, []byte("x"))
	mock.FailNext(recSID+".json", 503, 0, 1)
	if err := c.DeleteRecording(t.Context(), recSID); err == nil || twilio.IsPermanent(err) {
		t.Errorf("503 on delete: %v", err)
	}
	if !mock.HasRecording(recSID) {
		t.Error("failed delete removed the recording")
	}
}

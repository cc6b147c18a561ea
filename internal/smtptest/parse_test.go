package smtptest

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

func TestParseMultipart(t *testing.T) {
	bin := []byte{0, 1, 2, 0xff, '\r', '\n', '.', '\n'}
	b64 := base64.StdEncoding.EncodeToString(bin)
	raw := strings.Join([]string{
		"From: a@example.com",
		"Subject: disk full",
		"MIME-Version: 1.0",
		"Content-Type: multipart/mixed;",
		" boundary=OUTER",
		"",
		"--OUTER",
		"Content-Type: multipart/alternative; boundary=INNER",
		"",
		"--INNER",
		"Content-Type: text/plain; charset=UTF-8",
		"Content-Transfer-Encoding: quoted-printable",
		"",
		"caf=C3=A9 is =",
		"down",
		"--INNER",
		"Content-Type: text/html; charset=UTF-8",
		"",
		"<p>down</p>",
		"--INNER--",
		"--OUTER",
		"Content-Type: application/octet-stream",
		"Content-Disposition: attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.bin",
		"Content-Transfer-Encoding: base64",
		"",
		b64[:4],
		b64[4:],
		"--OUTER",
		"Content-Type: text/plain; name=\"log.txt\"",
		"",
		"plain attachment",
		"--OUTER--",
		"",
	}, "\r\n")

	p, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "disk full" || p.Text != "café is down" || p.HTML != "<p>down</p>" {
		t.Errorf("subject %q text %q html %q", p.Subject, p.Text, p.HTML)
	}
	if len(p.Attachments) != 2 {
		t.Fatalf("attachments = %+v", p.Attachments)
	}
	a := p.Attachments[0]
	if a.Name != "résumé.bin" || a.ContentType != "application/octet-stream" || !bytes.Equal(a.Data, bin) {
		t.Errorf("attachment 0 = %q %q %v", a.Name, a.ContentType, a.Data)
	}
	if a := p.Attachments[1]; a.Name != "log.txt" || string(a.Data) != "plain attachment" {
		t.Errorf("attachment 1 = %q %q", a.Name, a.Data)
	}
}

func TestParseRejectsBrokenStructure(t *testing.T) {
	for name, raw := range map[string]string{
		"no boundary":  "Content-Type: multipart/mixed\r\n\r\nx",
		"bad base64":   "Content-Transfer-Encoding: base64\r\n\r\n!!!!\r\n",
		"unknown cte":  "Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n",
		"bad media ty": "Content-Type: /\r\n\r\nx",
	} {
		if _, err := Parse([]byte(raw)); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
}

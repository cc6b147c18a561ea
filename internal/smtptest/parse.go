package smtptest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
)

// Parsed is what a mail reader would show for a message.
type Parsed struct {
	Header mail.Header
	// Subject with RFC 2047 encoded-words decoded.
	Subject string
	// Text is the first text/plain part, transfer-decoded, with CRLF line
	// endings turned into LF.
	Text string
	// HTML is the first text/html part, decoded like Text.
	HTML        string
	Attachments []Attachment
}

// Attachment is a decoded attachment part.
type Attachment struct {
	Name        string
	ContentType string // media type without parameters
	Data        []byte
}

// Parse decodes a raw RFC 5322 message using only the standard library, so a
// client bug in MIME structure or encoding shows up as a parse error or a
// wrong value rather than being papered over.
func Parse(raw []byte) (*Parsed, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("read message: %w", err)
	}
	var dec mime.WordDecoder
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return nil, fmt.Errorf("decode subject: %w", err)
	}
	p := &Parsed{Header: msg.Header, Subject: subject}
	if err := p.walk(textproto.MIMEHeader(msg.Header), msg.Body, 0); err != nil {
		return nil, err
	}
	return p, nil
}

// maxDepth bounds nesting (mixed > alternative > related is the deepest
// structure real clients produce).
const maxDepth = 8

func (p *Parsed) walk(h textproto.MIMEHeader, body io.Reader, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("MIME nesting deeper than %d", maxDepth)
	}
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain; charset=us-ascii"
	}
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("content-type %q: %w", ct, err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		boundary := params["boundary"]
		if boundary == "" {
			return fmt.Errorf("%s without boundary", mediaType)
		}
		mr := multipart.NewReader(body, boundary)
		for {
			// NextPart already undoes quoted-printable (and drops the header);
			// base64 is left to decodeBody.
			part, err := mr.NextPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("%s part: %w", mediaType, err)
			}
			if err := p.walk(part.Header, part, depth+1); err != nil {
				return err
			}
		}
	}

	data, err := decodeBody(h.Get("Content-Transfer-Encoding"), body)
	if err != nil {
		return fmt.Errorf("%s body: %w", mediaType, err)
	}
	name := attachmentName(h, params)
	disposition, _, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	switch {
	case name == "" && disposition != "attachment" && mediaType == "text/plain" && p.Text == "":
		p.Text = normalizeNewlines(data)
	case name == "" && disposition != "attachment" && mediaType == "text/html" && p.HTML == "":
		p.HTML = normalizeNewlines(data)
	default:
		p.Attachments = append(p.Attachments, Attachment{Name: name, ContentType: mediaType, Data: data})
	}
	return nil
}

func attachmentName(h textproto.MIMEHeader, ctParams map[string]string) string {
	// mime.ParseMediaType handles RFC 2231 (filename*=UTF-8''...) too.
	if _, params, err := mime.ParseMediaType(h.Get("Content-Disposition")); err == nil && params["filename"] != "" {
		return params["filename"]
	}
	return ctParams["name"]
}

func decodeBody(cte string, r io.Reader) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		// The decoder skips CR and LF, which is exactly the line wrapping
		// RFC 2045 requires.
		return io.ReadAll(base64.NewDecoder(base64.StdEncoding, r))
	case "quoted-printable":
		return io.ReadAll(quotedprintable.NewReader(r))
	case "", "7bit", "8bit", "binary":
		return io.ReadAll(r)
	default:
		return nil, fmt.Errorf("unknown transfer encoding %q", cte)
	}
}

func normalizeNewlines(b []byte) string {
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}

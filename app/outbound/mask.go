package outbound

import (
	"net/url"
	"strings"

	"github.com/oncall/pager/app/outbound/channel"
	"github.com/oncall/pager/app/team"
)

func maskPhone(p string) string {
	digits := 0
	for i := 0; i < len(p); i++ {
		if p[i] >= '0' && p[i] <= '9' {
			digits++
		}
	}
	if digits <= 4 {
		return strings.Repeat("*", len(p))
	}
	var b strings.Builder
	seen := 0
	for _, r := range p {
		switch {
		case r >= '0' && r <= '9':
			seen++
			if seen > digits-4 {
				b.WriteRune(r)
			} else {
				b.WriteByte('*')
			}
		case r == '+':
			b.WriteRune(r)
		default:
			// Formatting is dropped: spaces and dashes would only hint
			// at how many digits hide where.
		}
	}
	return b.String()
}

func maskEmail(a string) string {
	local, domain, ok := strings.Cut(a, "@")
	if !ok || local == "" {
		return maskTail(a, 0)
	}
	first := []rune(local)[0]
	return string(first) + "***@" + domain
}

func maskURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return maskTail(s, 0)
	}
	return channel.RedactURL(u)
}

func looksLikeURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// maskTail keeps the last keep characters of s.
func maskTail(s string, keep int) string {
	r := []rune(s)
	if len(r) <= keep*2 {
		keep = 0
	}
	return strings.Repeat("*", len(r)-keep) + string(r[len(r)-keep:])
}

// MaskAddress hides most of an address for reports, which any API key can
// read: phone numbers keep the last four digits ("+*******0101"), e-mail
// addresses their first letter and domain ("a***@example.com"), URLs their
// scheme and host (the path often holds a token), Pushover keys their last
// four characters. Chat channel names ("@alice", "#ops") are kept.
func MaskAddress(m team.Medium, addr string) string {
	if addr == "" {
		return ""
	}
	switch m {
	case team.MediumSMS, team.MediumVoice, team.MediumSignal:
		return maskPhone(addr)
	case team.MediumEmail:
		return maskEmail(addr)
	case team.MediumWebhook, team.MediumSlack:
		return maskURL(addr)
	case team.MediumPushover:
		return maskTail(addr, 4)
	case team.MediumMattermost:
		if looksLikeURL(addr) {
			return maskURL(addr)
		}
		return addr
	}
	return maskTail(addr, 4)
}

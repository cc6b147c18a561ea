package notification

import "strings"

// Fill renders an event's message template: each {{ field }} (spaces inside
// the braces optional; names of [A-Za-z0-9_.-]) is replaced by fields[name].
// A name absent from fields renders as empty and is reported in missing,
// once, in order of first use.
//
// Fields come from whoever holds an API key, so the template is scanned once
// and values are copied in verbatim: a value containing "{{ x }}" stays
// literal (no recursive expansion), and there is no template language to
// inject into. Anything that is not a well-formed placeholder ("{{", "{{ a b
// }}", "{{ a|upper }}") is kept as written. Braces are ASCII, so scanning
// bytes never splits a multi-byte character.
func Fill(tmpl string, fields map[string]string) (string, []string) {
	var (
		b       strings.Builder
		missing []string
		seen    map[string]bool
	)
	b.Grow(len(tmpl))
	for {
		i := strings.Index(tmpl, "{{")
		if i < 0 {
			b.WriteString(tmpl)
			break
		}
		name, n, ok := placeholder(tmpl[i:])
		if !ok {
			// Not a placeholder: keep one brace and rescan from the next,
			// so "{{{ a }}}" still finds "{{ a }}" inside.
			b.WriteString(tmpl[:i+1])
			tmpl = tmpl[i+1:]
			continue
		}
		b.WriteString(tmpl[:i])
		if v, ok := fields[name]; ok {
			b.WriteString(v)
		} else if !seen[name] {
			if seen == nil {
				seen = map[string]bool{}
			}
			seen[name] = true
			missing = append(missing, name)
		}
		tmpl = tmpl[i+n:]
	}
	return b.String(), missing
}

// Placeholders lists the field names tmpl uses, once each, in order.
func Placeholders(tmpl string) []string {
	_, names := Fill(tmpl, nil)
	return names
}

// placeholder parses "{{ name }}" at the start of s and returns the name and
// the placeholder's length in bytes.
func placeholder(s string) (name string, n int, ok bool) {
	i := 2 // past "{{"
	i = skipSpace(s, i)
	start := i
	for i < len(s) && nameByte(s[i]) {
		i++
	}
	if i == start {
		return "", 0, false
	}
	name = s[start:i]
	i = skipSpace(s, i)
	if !strings.HasPrefix(s[i:], "}}") {
		return "", 0, false
	}
	return name, i + 2, true
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

func nameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

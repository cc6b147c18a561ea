package jsondoc

import (
	"strconv"
	"strings"
)

// Path is a location in a document: object keys from the top, and array
// indexes encoded by Index. The zero Path is the top.
type Path []string

const indexMark = "\x00"

// Key is the path of key k in the object at p.
func (p Path) Key(k string) Path {
	q := make(Path, len(p), len(p)+1)
	copy(q, p)
	return append(q, k)
}

// Index is the path of item i in the array at p.
func (p Path) Index(i int) Path { return p.Key(indexMark + strconv.Itoa(i)) }

// Within reports whether p is q or lies under it.
func (p Path) Within(q Path) bool {
	if len(p) < len(q) {
		return false
	}
	for i := range q {
		if p[i] != q[i] {
			return false
		}
	}
	return true
}

// String writes the path dotted ("current_config.pager_phone"), with
// ["quoted"] keys where a key would be ambiguous and [n] for array items.
func (p Path) String() string {
	var b strings.Builder
	for _, e := range p {
		switch {
		case strings.HasPrefix(e, indexMark):
			b.WriteString("[" + e[len(indexMark):] + "]")
		case plainKey(e):
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(e)
		default:
			b.WriteString("[" + strconv.Quote(e) + "]")
		}
	}
	return b.String()
}

func plainKey(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range k {
		if !(c == '_' || c == '-' || c == '@' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

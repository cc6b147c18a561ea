package teamtest

import (
	"strings"
	"testing"

	"github.com/oncall/pager/app/jsondoc"
)

// Remove, as a value in EditDoc's edits, deletes the key.
var Remove = removeMarker{}

type removeMarker struct{}

// EditDoc applies edits (a dotted path each, to a value or Remove) to a
// config document with the order-preserving editor, so a test states only
// what it changes and everything else stays byte for byte.
func EditDoc(t testing.TB, data []byte, edits map[string]any) []byte {
	t.Helper()
	doc, err := jsondoc.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	for p, v := range edits {
		if v == Remove {
			doc.Delete(strings.Split(p, "."))
			continue
		}
		if err := doc.Set(strings.Split(p, "."), v); err != nil {
			t.Fatal(err)
		}
	}
	out, err := doc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

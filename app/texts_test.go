package app_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/oncall/pager/app/outbound"
)

// notTexts are the source files whose string literals never reach an SMS:
// the GSM-7 tables themselves, spoken text and e-mail subjects, parsers and
// the command line's help. The channels' cut mark is among the checked:
// TrimSMS cuts with it too.
var notTexts = map[string]string{
	"outbound/segments.go":    "the GSM-7 tables",
	"notification/deliver.go": "spoken text and e-mail subjects",
	"jsondoc":                 "a byte-order mark in the JSON decoder",
	"cli":                     "terminal output",
	"twilio/errors.go":        "comments only",
	"intake":                  "parsers of monitoring payloads",
	"team":                    "config documentation and validation messages",
}

// Every text the pager composes is GSM-7: one character outside it (an em
// dash, a curly quote, an ellipsis) sends the whole SMS as UCS-2, 70
// characters a segment instead of 160. Every string literal of the code
// that composes texts (format strings included) is checked.
func TestBuiltinTextsGSM7(t *testing.T) {
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		for skip := range notTexts {
			if path == skip || strings.HasPrefix(path, skip+"/") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Errorf("%s: %v", fset.Position(lit.Pos()), err)
				return true
			}
			checked++
			if s == "\x00" || s == "\uFFFD" {
				return true // byte markers in parsing code, not text
			}
			if !outbound.IsGSM7(strings.ReplaceAll(s, "\t", " ")) {
				t.Errorf("%s: %q is not GSM-7", fset.Position(lit.Pos()), s)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 200 {
		t.Fatalf("only %d literals checked: is the walk looking at the right folders?", checked)
	}
}

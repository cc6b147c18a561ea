package notification

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestFill(t *testing.T) {
	for _, tc := range []struct {
		name, tmpl string
		fields     map[string]string
		want       string
		missing    []string
	}{
		{"spaces and none", "Disk {{ host }} at {{pct}}%", map[string]string{"host": "db1", "pct": "97"}, "Disk db1 at 97%", nil},
		{"tabs", "{{\thost\t}}", map[string]string{"host": "db1"}, "db1", nil},
		{"name charset", "{{ a.b-c_1 }}", map[string]string{"a.b-c_1": "x"}, "x", nil},
		{"missing renders empty, reported once in order", "{{ b }}-{{ a }}-{{ b }}", map[string]string{}, "--", []string{"b", "a"}},
		{"empty value is not missing", "[{{ a }}]", map[string]string{"a": ""}, "[]", nil},
		{"no recursion", "{{ a }}", map[string]string{"a": "{{ b }}", "b": "secret"}, "{{ b }}", nil},
		{"value with braces stays literal", "{{a}}{{b}}", map[string]string{"a": "{{", "b": " b }}"}, "{{ b }}", nil},
		{"value closing a placeholder", "{{ a }} }}", map[string]string{"a": "{{ b"}, "{{ b }}", nil},
		{"unterminated", "Disk {{ host", map[string]string{"host": "db1"}, "Disk {{ host", nil},
		{"unterminated after a good one", "{{ a }} and {{", map[string]string{"a": "1"}, "1 and {{", nil},
		{"single brace", "{ a } {a}", map[string]string{"a": "1"}, "{ a } {a}", nil},
		{"triple braces", "{{{ a }}}", map[string]string{"a": "1"}, "{1}", nil},
		{"filters and expressions are not ours", "{{ a|upper }} {{ a b }} {{ }} {{ .Env }}", map[string]string{"a": "x", ".Env": "y"},
			"{{ a|upper }} {{ a b }} {{ }} y", nil},
		{"go template syntax is literal", `{{ printf "%s" .a }}`, map[string]string{"a": "x"}, `{{ printf "%s" .a }}`, nil},
		{"unicode around and inside values", "⚠ {{ host }} — {{ msg }} 🔥", map[string]string{"host": "сервер-1", "msg": "満杯 💾"},
			"⚠ сервер-1 — 満杯 💾 🔥", nil},
		{"unicode name is not a placeholder", "{{ hôte }}", map[string]string{"hôte": "x"}, "{{ hôte }}", nil},
		{"empty template", "", map[string]string{"a": "1"}, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, missing := Fill(tc.tmpl, tc.fields)
			if got != tc.want || !slices.Equal(missing, tc.missing) {
				t.Errorf("Fill(%q) = %q, missing %q; want %q, missing %q", tc.tmpl, got, missing, tc.want, tc.missing)
			}
		})
	}
}

func TestFillHugeValueIsCopiedOnce(t *testing.T) {
	v := strings.Repeat("{{ a }}", 10000)
	got, missing := Fill("<{{ a }}>", map[string]string{"a": v})
	if got != "<"+v+">" || missing != nil {
		t.Fatalf("len %d, missing %v", len(got), missing)
	}
}

func TestPlaceholders(t *testing.T) {
	if got := Placeholders("{{ host }} {{pct}} {{ host }} {{ bad"); !slices.Equal(got, []string{"host", "pct"}) {
		t.Fatalf("Placeholders = %q", got)
	}
}

func FuzzFill(f *testing.F) {
	f.Add("Disk {{ host }} at {{ pct }}%", "db1", "{{ pct }}")
	f.Add("{{{{ }}}}", "", "")
	f.Add("\xff{{ a }}\xfe", "é", "💾")
	f.Fuzz(func(t *testing.T, tmpl, a, b string) {
		fields := map[string]string{"host": a, "pct": b, "a": a}
		got, missing := Fill(tmpl, fields)
		// Without placeholders nothing changes.
		if !strings.Contains(tmpl, "{{") && got != tmpl {
			t.Fatalf("Fill changed %q to %q", tmpl, got)
		}
		// Valid UTF-8 in, valid UTF-8 out: nothing is cut mid-rune.
		if utf8.ValidString(tmpl) && utf8.ValidString(a) && utf8.ValidString(b) && !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8 from %q", tmpl)
		}
		for _, m := range missing {
			if _, ok := fields[m]; ok {
				t.Fatalf("%q reported missing but given", m)
			}
		}
		// Filling is a single pass: values that look like placeholders come
		// out exactly where a neutral value would.
		if !strings.Contains(tmpl, "\x00") {
			tricky := map[string]string{"host": "{{ a }}", "pct": "{{ a }}", "a": "{{ a }}"}
			neutral := map[string]string{"host": "\x00", "pct": "\x00", "a": "\x00"}
			lit, _ := Fill(tmpl, tricky)
			plain, _ := Fill(tmpl, neutral)
			if want := strings.ReplaceAll(plain, "\x00", "{{ a }}"); lit != want {
				t.Fatalf("Fill(%q) with placeholder values = %q, want %q", tmpl, lit, want)
			}
		}
	})
}

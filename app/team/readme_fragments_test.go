package team

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The README's config examples (a fenced json block after an
// "<!-- example: NAME -->" line) validate when merged into the example
// team: what a reader copies works.
func TestREADMEFragmentExamplesValidate(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)<!-- example: ([a-z_-]+) -->\\s*```json\\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	if len(blocks) == 0 {
		t.Fatal("no examples found in README.md")
	}
	for _, b := range blocks {
		name, example := b[1], strings.TrimSpace(b[2])
		// The example is a top-level fragment: splice its keys into the
		// example team.
		inner := strings.TrimSuffix(strings.TrimPrefix(example, "{"), "}")
		doc := strings.Replace(string(DefaultConfig()), "{", "{"+inner+",", 1)
		cfg, err := Parse([]byte(doc))
		if err != nil {
			t.Errorf("README example %q does not validate: %v", name, err)
			continue
		}
		for _, w := range Warnings(cfg) {
			if !strings.Contains(w.Path, "api_keys.example") {
				t.Errorf("README example %q: warning %s: %s", name, w.Path, w.Message)
			}
		}
	}
}

package event

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"testing"
)

const docsPath = "../../docs/events.md"

// docsExample matches an example of docs/events.md: a marker naming its golden file, then a JSON block.
var docsExample = regexp.MustCompile("(?s)<!-- example: ([a-z_]+) -->\n```json\n(.*?)```\n")

// TestDocs_Examples: every example in docs/events.md is its golden file, and every event type has
// one. With -update the examples are rewritten from the golden files.
func TestDocs_Examples(t *testing.T) {
	doc, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var failed bool
	out := docsExample.ReplaceAllFunc(doc, func(block []byte) []byte {
		m := docsExample.FindSubmatch(block)
		name := string(m[1])
		golden, err := os.ReadFile(goldenPath(name))
		if err != nil {
			t.Errorf("docs example %q: %v", name, err)
			failed = true
			return block
		}
		var ev Event
		if err := json.Unmarshal(golden, &ev); err != nil {
			t.Errorf("golden %s: %v", name, err)
		}
		seen[ev.Type] = true
		if *update {
			return []byte("<!-- example: " + name + " -->\n```json\n" + string(golden) + "```\n")
		}
		if len(bytes.TrimSpace(m[2])) == 0 || !bytes.Equal(compact(t, m[2]), compact(t, golden)) {
			t.Errorf("docs example %q differs from %s (run go test ./internal/event -update)", name, goldenPath(name))
		}
		return block
	})
	for typ := range dataDecoders {
		if !seen[typ] {
			t.Errorf("docs/events.md has no example of type %q", typ)
		}
	}
	if *update && !failed && !bytes.Equal(out, doc) {
		if err := os.WriteFile(docsPath, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

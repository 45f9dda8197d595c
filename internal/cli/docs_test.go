package cli

import (
	"flag"
	"os"
	"strings"
	"testing"
)

// TestServe_FlagsDocumented: every serve flag has a row in the README's configuration table,
// so a flag added without documentation fails here rather than surprising a user.
func TestServe_FlagsDocumented(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var f serveFlags
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	f.register(fs)
	n := 0
	fs.VisitAll(func(fl *flag.Flag) {
		n++
		if !strings.Contains(string(readme), "| `--"+fl.Name+"`") {
			t.Errorf("serve flag --%s has no row in the README's flag table", fl.Name)
		}
	})
	if n < 20 {
		t.Fatalf("only %d serve flags registered; the test looks at the wrong flag set", n)
	}
}

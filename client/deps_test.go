package client_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestStandardLibraryOnly keeps the package free to import anywhere: its
// non-test code depends on the standard library alone, not even on other
// gatepass packages.
func TestStandardLibraryOnly(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for line := range strings.Lines(string(out)) {
		path, standard, _ := strings.Cut(strings.TrimSpace(line), " ")
		if path == "github.com/gatepass/gatepass/client" {
			continue
		}
		if standard != "true" {
			t.Errorf("the client depends on %s, outside the standard library", path)
		}
	}
}

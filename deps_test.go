package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependenciesPointInward keeps the design's shape: the workflow core
// knows no Slack, database or scheduler; tokens needs only the standard
// library; the Slack adapter and the store do not know each other.
func TestDependenciesPointInward(t *testing.T) {
	const mod = "github.com/gatepass/gatepass"
	cases := []struct {
		pkg       string
		forbidden []string
		stdlib    bool // nothing outside the standard library but the module itself
	}{
		{pkg: mod + "/tokens", stdlib: true},
		{pkg: mod + "/workflow", forbidden: []string{"github.com/slack-go", "gorm.io", "github.com/robfig", mod + "/bot", mod + "/storage"}},
		{pkg: mod + "/bot", forbidden: []string{mod + "/storage", "gorm.io"}},
		{pkg: mod + "/storage", forbidden: []string{mod + "/bot", "github.com/slack-go"}},
	}
	for _, c := range cases {
		out, err := exec.Command("go", "list", "-deps", c.pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", c.pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, f := range c.forbidden {
				if strings.HasPrefix(dep, f) {
					t.Errorf("%s depends on %s", c.pkg, dep)
				}
			}
			first, _, _ := strings.Cut(dep, "/")
			if c.stdlib && strings.Contains(first, ".") && !strings.HasPrefix(dep, mod) {
				t.Errorf("%s depends on %s, outside the standard library", c.pkg, dep)
			}
		}
	}
}

package automation

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// A definition file with anchors and aliases is refused before anything
// is decoded: the alias bomb of testdata (1.1 KB, eight nested levels of
// nine aliases each) would expand to 9^8 strings.
func TestParseRefusesAliasBomb(t *testing.T) {
	data, err := os.ReadFile("testdata/alias-bomb.yaml")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = ParseWorkflows("bomb.yaml", data)
	t.Logf("refused after %s: %v", time.Since(start), err)
	if err == nil || !strings.Contains(err.Error(), "anchors and aliases are not allowed") {
		t.Fatalf("err = %v, want the anchors and aliases refused", err)
	}
}

// Anchors, aliases, over-long lists and oversized files are refused with
// a message naming the rule.
func TestParseRefusesFileLimits(t *testing.T) {
	one := "  - name: w%d\n    on: tag.created\n    actions: [{publish: {subject: x}}]\n"
	var many strings.Builder
	many.WriteString("workflows:\n")
	for i := range MaxDefinitions + 1 {
		fmt.Fprintf(&many, one, i)
	}
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"anchor and alias", "workflows:\n  - name: a\n    on: tag.created\n    locations: &locs [loc1]\n    actions: [{publish: {subject: x}}]\n" +
			"  - name: b\n    on: tag.created\n    locations: *locs\n    actions: [{publish: {subject: x}}]\n",
			[]string{"w.yaml:4:", "anchors and aliases are not allowed"}},
		{"merge key", "workflows:\n  - &base {name: a, on: tag.created, actions: [{publish: {subject: x}}]}\n  - <<: *base\n    name: b\n",
			[]string{"anchors and aliases are not allowed"}},
		{"too many definitions", many.String(), []string{"w.yaml:1:", "workflows", fmt.Sprintf("%d definitions", MaxDefinitions+1)}},
		{"too large", "workflows:\n" + strings.Repeat("# padding\n", MaxDocumentBytes/10+1), []string{"limited to"}},
		{"two documents", "workflows: []\n---\nworkflows: []\n", []string{"more than one YAML document"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseWorkflows("w.yaml", []byte(tt.in))
			if err == nil || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want %q in it", err, w)
				}
			}
		})
	}
	// Exactly MaxDefinitions still parse.
	var ok strings.Builder
	ok.WriteString("workflows:\n")
	for i := range MaxDefinitions {
		fmt.Fprintf(&ok, one, i)
	}
	if wfs, err := ParseWorkflows("w.yaml", []byte(ok.String())); err != nil || len(wfs) != MaxDefinitions {
		t.Errorf("%d workflows: %d parsed, %v", MaxDefinitions, len(wfs), err)
	}
}

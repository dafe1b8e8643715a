package automation

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// Expressions whose cost has no bound are refused when a workflow is
// parsed, with a message naming the rule; bounded ones pass.
func TestExpressionCostLimits(t *testing.T) {
	tests := []struct {
		name string
		on   Trigger
		expr string
		want string // empty: accepted
	}{
		{"nested predicates over a range", TagCreated, `let r = 1..1000; any(r, any(r, any(r, any(r, # < 0))))`, "predicate nested inside a predicate over a range"},
		{"range too long", TagCreated, `any(1..1001, # == 5)`, "more than the limit of 1000 elements"},
		{"range with variable bounds", TagCreated, `any(1..len(tagName), # == 5)`, "bounds must be constant integers"},
		{"repeat", TagCreated, `len(repeat(tagName, 1000000)) > 3`, "function repeat is not allowed"},
		{"reduce", TagCreated, `len(reduce(1..30, #acc + #acc, tagName)) > 3`, "function reduce is not allowed"},
		{"flatten", TagCreated, `len(flatten([[1]])) > 0`, "function flatten is not allowed"},
		{"replace growing without bound", TagCreated,
			`len(replace(replace(replace(tagName, "a", "aaaa"), "a", "aaaa"), "a", "aaaa")) > 3`, "grow a string 64-fold"},
		{"replace by a variable", TagCreated, `len(replace(tagName, "", tagName)) > 3`, "must be constant strings"},
		{"too many iterations", TagDetailsStored, `any(tags, any(tagNames, any(tagNames, # == "x")))`, "more than the limit of 100000"},
		{"in over a range inside a range", TagCreated, `let r = 1..1000; any(r, # in r)`, "more than the limit of 100000"},
		{"hidden loop through in", TagDetailsStored, `any(1..1000, any(tagNames, # in tagNames))`, "predicate nested inside a predicate over a range"},
		{"in over an unbounded list in a loop", TagDetailsStored, `any(tagNames, # in split(tagNames[0], ""))`, "cannot bound the size"},
		{"too many nodes", TagCreated, strings.Repeat("tagName == \"a\" || ", 120) + "true", "nodes, more than the limit of 300"},
		{"plain condition", TagCreated, `tagName startsWith "promo"`, ""},
		{"predicate over event tags", TagDetailsStored, `any(tags, #.tagName startsWith "promo" && !#.deleted)`, ""},
		{"nested predicates over event lists", TagDetailsStored, `any(tags, #.deleted && any(tagNames, # == "x"))`, ""},
		{"small range", TagCreated, `any(1..10, tagName == "promo" + string(#))`, ""},
		{"split once", TagCreated, `"promo" in split(tagName, "-")`, ""},
		{"platform maps", StatsSnapshot, `any(keys(engagement), engagement[#].change > 20) || count(values(impressions.platforms), .change > 5) > 1`, ""},
		{"replace shrinking", TagCreated, `replace(replace(tagName, "-", " "), "_", " ") == "a b"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := fmt.Sprintf("workflows:\n  - name: w\n    on: %s\n    when: '%s'\n    actions: [{publish: {subject: acme.x}}]\n", tt.on, strings.ReplaceAll(tt.expr, "'", "''"))
			_, err := ParseWorkflows("w.yaml", []byte(in))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want == "":
			case err == nil:
				t.Fatalf("accepted; want a refusal naming %q", tt.want)
			case !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "workflows[0].when"):
				t.Fatalf("err = %v; want %q at workflows[0].when", err, tt.want)
			}
		})
	}
}

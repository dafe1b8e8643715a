package ghlspec

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ScopeFiles are the files whose security blocks Scopes reads: Files and
// the v3 social planner file, the only one to name the statistics scope.
var ScopeFiles = append(slices.Clone(Files), "apps/v3/social-planner-v3.json")

// Scopes returns, for every operation of ScopeFiles whose security block
// names at least one scope, the scopes it names, keyed by "METHOD /path"
// (method in upper case, path as the file spells it). Operations declared
// in several files get the union. Many operations name none (`bearer: []`
// or no block at all): they are absent.
func Scopes(dir string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, f := range ScopeFiles {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f, err)
		}
		var doc struct {
			Paths map[string]map[string]json.RawMessage `json:"paths"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("decode %s: %w", f, err)
		}
		for path, ops := range doc.Paths {
			for method, raw := range ops {
				var op struct {
					Security []map[string][]string `json:"security"`
				}
				if json.Unmarshal(raw, &op) != nil {
					continue // "parameters" and other non-operation members
				}
				key := strings.ToUpper(method) + " " + path
				for _, req := range op.Security {
					for _, scopes := range req {
						for _, s := range scopes {
							if !slices.Contains(out[key], s) {
								out[key] = append(out[key], s)
							}
						}
					}
				}
			}
		}
	}
	return out, nil
}

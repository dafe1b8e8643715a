package deploy

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// selfRefreshing names the functions of golang.org/x/oauth2 whose token
// sources refresh a token on their own: NewClient wraps its source in a
// ReuseTokenSource. A location's token is refreshed only by pkg/creds'
// refresher, under its lease, once in the fleet.
var selfRefreshing = map[string]bool{"ReuseTokenSource": true, "ReuseTokenSourceWithExpiry": true, "NewClient": true}

// tokenSourceUses returns the calls in the Go files under dir that build a
// self-refreshing oauth2 token source: the functions of selfRefreshing,
// and an oauth2.Config's TokenSource(ctx, tok) or Client(ctx, tok), told
// by their two arguments (no TokenSource or Client method of ours takes
// two).
func tokenSourceUses(t *testing.T, dir string) []string {
	t.Helper()
	var bad []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && path != dir && (d.Name() == "testdata" || d.Name() == "vendor" || strings.HasPrefix(d.Name(), ".")):
			return filepath.SkipDir
		case d.IsDir() || !strings.HasSuffix(path, ".go"):
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		bad = append(bad, selfRefreshingCalls(fset, f)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return bad
}

func selfRefreshingCalls(fset *token.FileSet, f *ast.File) []string {
	oauth2 := "" // the file's name for golang.org/x/oauth2
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == "golang.org/x/oauth2" {
			oauth2 = "oauth2"
			if imp.Name != nil {
				oauth2 = imp.Name.Name
			}
		}
	}
	var bad []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		x, _ := sel.X.(*ast.Ident)
		name := sel.Sel.Name
		switch {
		case oauth2 != "" && x != nil && x.Name == oauth2 && selfRefreshing[name]:
			bad = append(bad, fmt.Sprintf("%s: oauth2.%s refreshes outside pkg/creds' lease", fset.Position(call.Pos()), name))
		case (name == "TokenSource" || name == "Client") && len(call.Args) == 2:
			bad = append(bad, fmt.Sprintf("%s: an oauth2.Config's %s refreshes outside pkg/creds' lease", fset.Position(call.Pos()), name))
		}
		return true
	})
	return bad
}

// The check finds every way of building a self-refreshing token source,
// whatever the package is called, and passes the calls socialsync makes.
func TestSelfRefreshingCalls(t *testing.T) {
	tests := []struct {
		src  string
		want int
	}{
		{`import "golang.org/x/oauth2"; var _ = oauth2.ReuseTokenSource(nil, src)`, 1},
		{`import o2 "golang.org/x/oauth2"; var _ = o2.ReuseTokenSourceWithExpiry(nil, src, 0)`, 1},
		{`import "golang.org/x/oauth2"; var _ = oauth2.NewClient(ctx, src)`, 1},
		{`var _ = client.OAuthConfig(app, u, r, nil).TokenSource(ctx, tok)`, 1},
		{`var _ = cfg.Client(ctx, tok)`, 1},
		{`import "golang.org/x/oauth2"; var _ = oauth2.StaticTokenSource(tok); var _ = store.TokenSource(loc); var _ = deps.Client(loc)`, 0},
		{`var _ = other.ReuseTokenSource(nil, src)`, 0},
	}
	for _, tt := range tests {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, "x.go", "package x; "+tt.src, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		if got := selfRefreshingCalls(fset, f); len(got) != tt.want {
			t.Errorf("%s: %d findings %v, want %d", tt.src, len(got), got, tt.want)
		}
	}
}

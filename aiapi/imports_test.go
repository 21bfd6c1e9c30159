package aiapi

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The AI API is given its providers (Config.Registry) and never imports
// one: neither it nor any package of this module it builds on, directly
// or through others, may import a package below aiapi/provider/ (the
// concrete providers and builtin, which wires them). Every non-test file
// counts, whatever its build constraints.
func TestAIAPIImportsNoConcreteProvider(t *testing.T) {
	const module = "github.com/aigate/aigate"
	const forbidden = module + "/aiapi/provider/"
	root, err := filepath.Abs("..") // this package is aiapi/ in the module
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found above aiapi: %v", err)
	}
	// via maps a package reached to the package that imports it, for the
	// chain a failure names.
	via := map[string]string{module + "/aiapi": ""}
	queue := []string{module + "/aiapi"}
	for len(queue) > 0 {
		pkg := queue[0]
		queue = queue[1:]
		for _, imp := range packageImports(t, filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(pkg, module)))) {
			if imp != module && !strings.HasPrefix(imp, module+"/") {
				continue
			}
			if _, seen := via[imp]; seen {
				continue
			}
			via[imp] = pkg
			if strings.HasPrefix(imp, forbidden) {
				chain := []string{imp}
				for p := pkg; p != ""; p = via[p] {
					chain = append(chain, p)
				}
				slices.Reverse(chain)
				t.Errorf("aiapi imports a concrete provider: %s", strings.Join(chain, " -> "))
				continue
			}
			queue = append(queue, imp)
		}
	}
	if len(via) < 3 {
		t.Fatalf("read only %d packages: the walk found no imports", len(via))
	}
}

// packageImports lists the imports of the non-test Go files in dir.
func packageImports(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, spec := range f.Imports {
			path, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, path)
		}
	}
	if len(files) == 0 {
		t.Fatalf("no Go files in %s", dir)
	}
	return out
}

package registry_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// undocumentedCodes are the codes README.md need not name: no client of `citygrid serve`
// receives them.
var undocumentedCodes = map[string]string{
	"no_responsible_unit": "ErrNoUnit is internal to a lookup: it answers 200 with \"unit\":null and rule kind \"none\"",
	"invalid_unit":        "only Service.PutUnit raises it; HTTP checks a unit as a units-document entry first (missing_field)",
	"invalid_rule":        "only Service.PutRule raises it; HTTP checks a rule as a rules-document entry first (missing_field)",
	"too_large":           "only `citygrid import` reaches it: serve's census upload limit equals the document limit, so HTTP answers body_too_large",
}

type codeConst struct {
	name, value string
	pos         token.Position
}

// parseCodes returns the constants of codes.go.
func parseCodes(t *testing.T) []codeConst {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "codes.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var out []codeConst
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok {
			continue
		}
		if gd.Tok != token.CONST {
			t.Errorf("%s: codes.go declares a %s; it holds only the code constants", fset.Position(gd.Pos()), gd.Tok)
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			pos := fset.Position(vs.Pos())
			if len(vs.Names) != 1 || len(vs.Values) != 1 {
				t.Errorf("%s: declare one code per line", pos)
				continue
			}
			lit, ok := vs.Values[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Errorf("%s: %s is not a string literal", pos, vs.Names[0].Name)
				continue
			}
			v, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			if vs.Doc == nil && vs.Comment == nil {
				t.Errorf("%s: %s has no comment saying when it is raised", pos, vs.Names[0].Name)
			}
			out = append(out, codeConst{name: vs.Names[0].Name, value: v, pos: pos})
		}
	}
	if len(out) == 0 {
		t.Fatal("codes.go declares no constants")
	}
	return out
}

var snakeCase = regexp.MustCompile(`^[a-z]+(_[a-z]+)*$`)

func TestCodesUniqueSnakeCase(t *testing.T) {
	byValue := map[string]string{}
	for _, c := range parseCodes(t) {
		if !snakeCase.MatchString(c.value) {
			t.Errorf("%s: %s = %q is not snake_case", c.pos, c.name, c.value)
		}
		if other, dup := byValue[c.value]; dup {
			t.Errorf("%s: %s and %s both have the value %q", c.pos, other, c.name, c.value)
		}
		byValue[c.value] = c.name
		// The name spells the value: CodeInvalidBBox is "invalid_bbox".
		if want := strings.ReplaceAll(c.value, "_", ""); strings.ToLower(strings.TrimPrefix(c.name, "Code")) != want || !strings.HasPrefix(c.name, "Code") {
			t.Errorf("%s: %s does not spell its value %q (want Code + the value in CamelCase)", c.pos, c.name, c.value)
		}
	}
}

// TestCodesInREADME: every code a client can receive is named in README.md (as `code`), and
// every exception above is a code that is not.
func TestCodesInREADME(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]bool{}
	for _, c := range parseCodes(t) {
		values[c.value] = true
		documented := strings.Contains(string(readme), "`"+c.value+"`")
		_, exempt := undocumentedCodes[c.value]
		switch {
		case !documented && !exempt:
			t.Errorf("README.md does not name %s (`%s`); document it under HTTP API, or list it in undocumentedCodes with the reason no client receives it", c.name, c.value)
		case documented && exempt:
			t.Errorf("README.md names `%s`, which undocumentedCodes lists as internal: drop the exception", c.value)
		}
	}
	for v := range undocumentedCodes {
		if !values[v] {
			t.Errorf("undocumentedCodes lists %q, which codes.go does not declare", v)
		}
	}
}

// TestNoCodeLiterals: outside codes.go no production file raises a code as a string literal,
// in registry.Errorf or in the Code field of an Error, a Problem or api's httpError. fixtures/
// is exempt: its invalid_config errors are not API codes.
func TestNoCodeLiterals(t *testing.T) {
	fset := token.NewFileSet()
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "fixtures", "testdata", "node_modules":
				return filepath.SkipDir
			}
			if strings.HasPrefix(d.Name(), ".") && path != ".." {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || filepath.Base(path) == "codes.go" {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if isErrorf(n.Fun, f.Name.Name) && len(n.Args) >= 2 && isStringLit(n.Args[1]) {
					t.Errorf("%s: Errorf with the literal code %s; use a Code constant", fset.Position(n.Pos()), n.Args[1].(*ast.BasicLit).Value)
				}
			case *ast.CompositeLit:
				if !isCodeCarrier(n.Type) {
					return true
				}
				for _, el := range n.Elts {
					kv, ok := el.(*ast.KeyValueExpr)
					if !ok {
						continue
					}
					if k, ok := kv.Key.(*ast.Ident); ok && (k.Name == "Code" || k.Name == "code") && isStringLit(kv.Value) {
						t.Errorf("%s: the literal code %s; use a Code constant", fset.Position(kv.Pos()), kv.Value.(*ast.BasicLit).Value)
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func isStringLit(e ast.Expr) bool {
	lit, ok := e.(*ast.BasicLit)
	return ok && lit.Kind == token.STRING
}

// isErrorf reports whether fun is registry.Errorf (or Errorf inside package registry).
func isErrorf(fun ast.Expr, pkg string) bool {
	switch fun := fun.(type) {
	case *ast.Ident:
		return pkg == "registry" && fun.Name == "Errorf"
	case *ast.SelectorExpr:
		x, ok := fun.X.(*ast.Ident)
		return ok && x.Name == "registry" && fun.Sel.Name == "Errorf"
	}
	return false
}

// isCodeCarrier reports whether typ is Error, Problem (either qualified by registry) or httpError.
func isCodeCarrier(typ ast.Expr) bool {
	switch typ := typ.(type) {
	case *ast.Ident:
		return typ.Name == "Error" || typ.Name == "Problem" || typ.Name == "httpError"
	case *ast.SelectorExpr:
		x, ok := typ.X.(*ast.Ident)
		return ok && x.Name == "registry" && (typ.Sel.Name == "Error" || typ.Sel.Name == "Problem")
	}
	return false
}

package automation

import (
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// FieldError is a problem with one field of a definition file.
type FieldError struct {
	// File is the file's name as given to the parser; may be empty.
	File string
	// Line and Column locate the field (1-based); zero when unknown.
	Line, Column int
	// Field is the field's path, "workflows[0].when".
	Field string
	// Message says what is wrong.
	Message string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:%d: ", e.Line, e.Column)
	} else if e.File != "" {
		b.WriteString(" ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Is makes every FieldError match ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// document is a parsed YAML file, kept to locate fields.
type document struct {
	name string
	file *ast.File
}

// Limits of a definition file, checked before it is decoded.
const (
	// MaxDocumentBytes bounds the size of a definition file.
	MaxDocumentBytes = 256 << 10
	// MaxDefinitions bounds the definitions (workflows or segments) of one
	// file.
	MaxDefinitions = 200
)

// decode parses data strictly (unknown fields are errors) into v, and
// returns the document for locating fields in later checks. The parsed
// nodes are checked first: anchors and aliases are refused (an alias
// bomb of a kilobyte expands to gigabytes when decoded; the parser keeps
// an alias as a node and expands nothing), and so is a list of more than
// MaxDefinitions definitions.
func decode(name string, data []byte, v any) (*document, error) {
	if len(data) > MaxDocumentBytes {
		return nil, &FieldError{File: name, Message: fmt.Sprintf("file of %d bytes: definition files are limited to %d bytes", len(data), MaxDocumentBytes)}
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, yamlError(name, err)
	}
	if err := checkNodes(name, f); err != nil {
		return nil, err
	}
	if err := yaml.UnmarshalWithOptions(data, v, yaml.Strict()); err != nil {
		return nil, yamlError(name, err)
	}
	return &document{name: name, file: f}, nil
}

// yamlError converts the YAML library's error, which knows the token at
// fault, into a FieldError.
func yamlError(name string, err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		fe := &FieldError{File: name, Message: ye.GetMessage()}
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			fe.Line, fe.Column = tk.Position.Line, tk.Position.Column
		}
		var uf *yaml.UnknownFieldError
		if errors.As(err, &uf) && uf.Token != nil {
			fe.Field = uf.Token.Value
		}
		return fe
	}
	return &FieldError{File: name, Message: err.Error()}
}

// errorAt returns a FieldError for field (a path like "workflows[0].when")
// located in d; d may be nil (a definition read from the store).
func (d *document) errorAt(field, format string, args ...any) error {
	fe := &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
	if d == nil {
		return fe
	}
	fe.File = d.name
	if n := d.find(field); n != nil {
		if tk := n.GetToken(); tk != nil && tk.Position != nil {
			fe.Line, fe.Column = tk.Position.Line, tk.Position.Column
		}
	}
	return fe
}

// find returns the node at field, or at its nearest ancestor that
// exists (a missing field is reported where its parent is).
func (d *document) find(field string) ast.Node {
	p := field
	for p != "" {
		if path, err := yaml.PathString("$." + p); err == nil {
			if n, err := path.FilterFile(d.file); err == nil && n != nil {
				return n
			}
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return nil
}

// checkNodes refuses anchors, aliases and over-long definition lists in
// the parsed file, before anything is decoded.
func checkNodes(name string, f *ast.File) error {
	if len(f.Docs) > 1 {
		return &FieldError{File: name, Message: "more than one YAML document: want one file per document"}
	}
	var found ast.Node
	for _, doc := range f.Docs {
		if doc.Body == nil {
			continue
		}
		ast.Walk(visitFunc(func(n ast.Node) bool {
			switch n.(type) {
			case *ast.AnchorNode, *ast.AliasNode:
				found = n
				return false
			}
			return found == nil
		}), doc.Body)
		if found != nil {
			fe := &FieldError{File: name, Message: "YAML anchors and aliases are not allowed in definition files: write each value out"}
			if tk := found.GetToken(); tk != nil && tk.Position != nil {
				fe.Line, fe.Column = tk.Position.Line, tk.Position.Column
			}
			return fe
		}
		var values []*ast.MappingValueNode
		switch b := doc.Body.(type) {
		case *ast.MappingNode:
			values = b.Values
		case *ast.MappingValueNode:
			values = []*ast.MappingValueNode{b}
		}
		for _, mv := range values {
			if seq, ok := mv.Value.(*ast.SequenceNode); ok && len(seq.Values) > MaxDefinitions {
				fe := &FieldError{File: name, Field: mv.Key.String(),
					Message: fmt.Sprintf("%d definitions: a file may hold at most %d; split it", len(seq.Values), MaxDefinitions)}
				if tk := mv.Key.GetToken(); tk != nil && tk.Position != nil {
					fe.Line, fe.Column = tk.Position.Line, tk.Position.Column
				}
				return fe
			}
		}
	}
	return nil
}

// visitFunc is an ast.Visitor: it descends while the function returns
// true.
type visitFunc func(ast.Node) bool

func (f visitFunc) Visit(n ast.Node) ast.Visitor {
	if !f(n) {
		return nil
	}
	return f
}

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

// decode parses data strictly (unknown fields are errors) into v, and
// returns the document for locating fields in later checks.
func decode(name string, data []byte, v any) (*document, error) {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, yamlError(name, err)
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

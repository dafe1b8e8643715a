package cli

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// secretFlag is a secret a command accepts as a flag value (--NAME, which
// the process list and the shell history show) or from a file
// (--NAME-file PATH, - for standard input).
type secretFlag struct {
	name  string
	value *string
	file  *string
}

// newSecretFlag defines --name and --name-file on fs; what is the secret,
// for the usage text.
func newSecretFlag(fs *flag.FlagSet, name, what string) *secretFlag {
	return &secretFlag{
		name:  name,
		value: fs.String(name, "", what+" (visible in the process list and shell history: prefer --"+name+"-file)"),
		file:  fs.String(name+"-file", "", "read "+what+" from this file (- for standard input); one trailing newline is dropped"),
	}
}

// given reports whether either flag was set.
func (s *secretFlag) given() bool { return *s.value != "" || *s.file != "" }

// read returns the secret, warning on env.Stderr when it came as a flag
// value. Its errors never hold the secret.
func (s *secretFlag) read(env *Env) (string, error) {
	switch {
	case *s.value != "" && *s.file != "":
		return "", fmt.Errorf("%w: give --%s or --%s-file, not both", errUsage, s.name, s.name)
	case *s.value != "":
		fmt.Fprintf(env.Stderr, "warning: --%s shows the secret in the process list and the shell history; use --%s-file PATH or --%s-file - (standard input)\n", s.name, s.name, s.name)
		return *s.value, nil
	case *s.file == "":
		return "", nil
	}
	var (
		b   []byte
		err error
	)
	if *s.file == "-" {
		in := env.Stdin
		if in == nil {
			in = strings.NewReader("")
		}
		b, err = io.ReadAll(in)
	} else {
		b, err = os.ReadFile(*s.file)
	}
	if err != nil {
		return "", fmt.Errorf("--%s-file: %w", s.name, err)
	}
	v := string(b)
	if t, ok := strings.CutSuffix(v, "\r\n"); ok {
		v = t
	} else {
		v = strings.TrimSuffix(v, "\n")
	}
	if v == "" {
		return "", fmt.Errorf("%w: --%s-file %s is empty", errUsage, s.name, *s.file)
	}
	return v, nil
}

// Package automation owns segments and saved workflows: the domain logic
// and the stored definitions. It reads their YAML definitions (refusing a
// bad one with the line and the field at fault), decides which contacts
// belong to which segment, compiles workflow conditions against a typed
// environment per trigger, and runs a matching workflow's actions through
// interfaces the worker implements, once per event. Its store (store.go,
// kinds.go, membership.go) is the one owner of the definitions, and of the
// membership keys, in the segments and workflows buckets: the CLI and the
// gateway apply, list and delete definitions through it, and the worker
// reads them.
package automation

// Package automation is the domain logic of segments and saved workflows,
// free of NATS: it reads their YAML definitions (refusing a bad one with
// the line and the field at fault), decides which contacts belong to which
// segment, compiles workflow conditions against a typed environment per
// trigger, and runs a matching workflow's actions through interfaces the
// worker implements, once per event.
package automation

package automation

import (
	"fmt"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
)

// Limits of workflow expressions. expr's virtual machine cannot be
// interrupted (a context reaches only functions), so the cost of an
// expression is bounded when it is applied, from its syntax tree, and an
// evaluation that still runs long is abandoned (see Evaluator).
const (
	// MaxExprNodes bounds the syntax tree of one expression.
	MaxExprNodes = 300
	// MaxRange bounds the elements of a range a..b; its bounds must be
	// constant integers.
	MaxRange = 1000
	// MaxIterations bounds the iterations of an expression: over every
	// predicate (any, all, filter, map, count, …), range, `in` and list
	// builtin, the size of what it iterates times the sizes of the
	// iterations it is nested in.
	MaxIterations = 100_000
	// maxGrowth bounds how many times replace calls may, together, grow
	// a string.
	maxGrowth = 16
)

// Caps of the lists an event's environment holds; an event over a cap is
// refused when its environment is built (CheckEnv), so that the bound
// decided at apply time holds at run time.
const (
	// MaxEventTags caps tags and tagNames of a tag details event (the
	// enricher publishes at most 100 per event).
	MaxEventTags = 100
	// MaxEventProfiles caps profileIds of a statistics snapshot.
	MaxEventProfiles = 100
	// MaxEventPlatforms caps each per-platform map of a statistics
	// snapshot (engagement, posts.platforms, impressions.platforms,
	// reach.platforms).
	MaxEventPlatforms = 20
)

// envLists are the lists (and maps) of each trigger's environment with
// their caps, by path.
func envLists(t Trigger) map[string]int {
	switch t {
	case TagDetailsStored:
		return map[string]int{"tagNames": MaxEventTags, "tags": MaxEventTags}
	case StatsSnapshot:
		return map[string]int{"profileIds": MaxEventProfiles, "engagement": MaxEventPlatforms,
			"posts.platforms": MaxEventPlatforms, "impressions.platforms": MaxEventPlatforms, "reach.platforms": MaxEventPlatforms}
	}
	return nil
}

// CheckEnv reports an environment whose lists exceed their caps.
func CheckEnv(env any) error {
	sizes := map[string]int{}
	var t Trigger
	switch e := env.(type) {
	case TagDetailsEnv:
		t = TagDetailsStored
		sizes["tagNames"], sizes["tags"] = len(e.TagNames), len(e.Tags)
	case StatsEnv:
		t = StatsSnapshot
		sizes["profileIds"], sizes["engagement"] = len(e.ProfileIDs), len(e.Engagement)
		sizes["posts.platforms"], sizes["impressions.platforms"], sizes["reach.platforms"] = len(e.Posts.Platforms), len(e.Impressions.Platforms), len(e.Reach.Platforms)
	}
	for path, limit := range envLists(t) {
		if sizes[path] > limit {
			return fmt.Errorf("%s: %d entries, more than the %d workflow conditions accept", path, sizes[path], limit)
		}
	}
	return nil
}

// allowedBuiltins are the builtins a workflow expression may call; the
// others build values of unbounded size (repeat, reduce, flatten) or are
// not needed.
var allowedBuiltins = map[string]bool{
	"all": true, "none": true, "any": true, "one": true, "filter": true, "map": true, "count": true, "sum": true,
	"find": true, "findIndex": true, "findLast": true, "findLastIndex": true, "groupBy": true, "sortBy": true,
	"len": true, "type": true, "abs": true, "ceil": true, "floor": true, "round": true, "int": true, "float": true,
	"string": true, "trim": true, "trimPrefix": true, "trimSuffix": true, "upper": true, "lower": true,
	"split": true, "splitAfter": true, "replace": true, "join": true, "indexOf": true, "lastIndexOf": true,
	"hasPrefix": true, "hasSuffix": true, "max": true, "min": true, "mean": true, "median": true,
	"toJSON": true, "fromJSON": true, "toBase64": true, "fromBase64": true, "now": true, "duration": true,
	"date": true, "timezone": true, "first": true, "last": true, "get": true, "take": true, "keys": true,
	"values": true, "toPairs": true, "fromPairs": true, "reverse": true, "uniq": true, "concat": true, "sort": true,
}

// linearBuiltins make one pass over their first argument, a list.
var linearBuiltins = map[string]bool{
	"join": true, "reverse": true, "uniq": true, "sort": true, "keys": true, "values": true, "toPairs": true,
	"fromPairs": true, "concat": true, "mean": true, "median": true, "take": true,
}

// sameSize are the builtins whose result is no longer than their first
// argument.
var sameSize = map[string]bool{
	"filter": true, "map": true, "sortBy": true, "groupBy": true, "reverse": true, "uniq": true, "sort": true,
	"take": true, "keys": true, "values": true, "toPairs": true, "fromPairs": true,
}

// size is what is known of a collection: at most n elements (-1: not
// known), and whether it comes from a range.
type size struct {
	n         int
	fromRange bool
}

var unknown = size{n: -1}

// costError is an expression over a cost limit.
type costError struct{ msg string }

func (e *costError) Error() string { return e.msg }

// checkCost bounds the cost of expression src over the environment of
// trigger t; it returns an error naming the rule it breaks. src must
// have compiled already.
func checkCost(src string, t Trigger) error {
	tree, err := parser.Parse(src)
	if err != nil {
		return err
	}
	nodes := 0
	ast.Walk(&tree.Node, countNodes{&nodes})
	if nodes > MaxExprNodes {
		return &costError{fmt.Sprintf("expression of %d nodes, more than the limit of %d", nodes, MaxExprNodes)}
	}
	c := &coster{lists: envLists(t), growth: 1}
	c.walk(tree.Node, 1, false, nil)
	if c.err != nil {
		return c.err
	}
	return nil
}

type countNodes struct{ n *int }

func (v countNodes) Visit(*ast.Node) { *v.n++ }

type coster struct {
	lists      map[string]int
	iterations int
	growth     int
	err        error
}

func (c *coster) fail(format string, args ...any) {
	if c.err == nil {
		c.err = &costError{fmt.Sprintf(format, args...)}
	}
}

// iterate counts an iteration over a collection of size s done mult
// times; what names it in errors.
func (c *coster) iterate(what string, s size, mult int) int {
	if s.n < 0 {
		if mult > 1 {
			c.fail("cannot bound the size of what %s iterates inside another iteration: iterate over an event list, a constant range or a literal list", what)
		}
		return 1
	}
	n := max(s.n, 1)
	c.iterations += mult * n
	if c.iterations > MaxIterations {
		c.fail("up to %d iterations (the sizes of nested iterations multiplied; event lists count at their caps), more than the limit of %d", c.iterations, MaxIterations)
	}
	return n
}

// walk checks node n evaluated mult times; inRange says n is inside the
// predicate of a predicate over a range; vars are the let variables'
// sizes in scope.
func (c *coster) walk(n ast.Node, mult int, inRange bool, vars map[string]size) {
	if c.err != nil || n == nil {
		return
	}
	switch n := n.(type) {
	case *ast.BuiltinNode:
		c.builtin(n, mult, inRange, vars)
	case *ast.CallNode:
		c.fail("calling %s is not allowed in workflow expressions", ast.Node(n.Callee).String())
	case *ast.BinaryNode:
		switch n.Operator {
		case "..":
			s := c.rangeSize(n)
			if c.err == nil {
				c.iterate("a range", s, mult)
			}
			return
		case "in", "not in":
			c.walk(n.Left, mult, inRange, vars)
			c.walk(n.Right, mult, inRange, vars)
			if s := c.size(n.Right, vars); s.n >= 0 || !scalar(n.Right) {
				c.iterate("in", s, mult)
			}
			return
		}
		c.walk(n.Left, mult, inRange, vars)
		c.walk(n.Right, mult, inRange, vars)
	case *ast.VariableDeclaratorNode:
		c.walk(n.Value, mult, inRange, vars)
		inner := make(map[string]size, len(vars)+1)
		for k, v := range vars {
			inner[k] = v
		}
		inner[n.Name] = c.size(n.Value, vars)
		c.walk(n.Expr, mult, inRange, inner)
	case *ast.UnaryNode:
		c.walk(n.Node, mult, inRange, vars)
	case *ast.ChainNode:
		c.walk(n.Node, mult, inRange, vars)
	case *ast.MemberNode:
		c.walk(n.Node, mult, inRange, vars)
		c.walk(n.Property, mult, inRange, vars)
	case *ast.SliceNode:
		c.walk(n.Node, mult, inRange, vars)
		c.walk(n.From, mult, inRange, vars)
		c.walk(n.To, mult, inRange, vars)
	case *ast.ConditionalNode:
		c.walk(n.Cond, mult, inRange, vars)
		c.walk(n.Exp1, mult, inRange, vars)
		c.walk(n.Exp2, mult, inRange, vars)
	case *ast.SequenceNode:
		for _, e := range n.Nodes {
			c.walk(e, mult, inRange, vars)
		}
	case *ast.ArrayNode:
		for _, e := range n.Nodes {
			c.walk(e, mult, inRange, vars)
		}
	case *ast.MapNode:
		for _, p := range n.Pairs {
			c.walk(p, mult, inRange, vars)
		}
	case *ast.PairNode:
		c.walk(n.Key, mult, inRange, vars)
		c.walk(n.Value, mult, inRange, vars)
	case *ast.PredicateNode:
		c.walk(n.Node, mult, inRange, vars)
	}
}

// scalar reports whether n is obviously not a collection (`"a" in "abc"`
// is a substring test).
func scalar(n ast.Node) bool {
	switch n.(type) {
	case *ast.StringNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NilNode:
		return true
	}
	return false
}

func (c *coster) builtin(n *ast.BuiltinNode, mult int, inRange bool, vars map[string]size) {
	if !allowedBuiltins[n.Name] {
		c.fail("function %s is not allowed in workflow expressions (its cost has no bound)", n.Name)
		return
	}
	var pred *ast.PredicateNode
	for _, a := range n.Arguments {
		if p, ok := a.(*ast.PredicateNode); ok {
			pred = p
		}
	}
	if pred != nil {
		if inRange {
			c.fail("%s: a predicate nested inside a predicate over a range is not allowed", n.Name)
			return
		}
		coll := n.Arguments[0]
		c.walk(coll, mult, inRange, vars)
		s := c.size(coll, vars)
		times := c.iterate(n.Name, s, mult)
		for _, a := range n.Arguments[1:] {
			if a == pred {
				c.walk(a, mult*times, inRange || s.fromRange, vars)
			} else {
				c.walk(a, mult, inRange, vars)
			}
		}
		return
	}
	for _, a := range n.Arguments {
		c.walk(a, mult, inRange, vars)
	}
	switch {
	case n.Name == "replace":
		c.replace(n)
	case n.Name == "concat":
		for _, a := range n.Arguments {
			c.iterate(n.Name, c.size(a, vars), mult)
		}
	case linearBuiltins[n.Name], n.Name == "sum" || n.Name == "count",
		(n.Name == "max" || n.Name == "min") && len(n.Arguments) == 1:
		if len(n.Arguments) > 0 && !scalar(n.Arguments[0]) {
			c.iterate(n.Name, c.size(n.Arguments[0], vars), mult)
		}
	}
}

// replace bounds how much replace calls grow strings: what they replace
// and by what must be constant, the first not empty.
func (c *coster) replace(n *ast.BuiltinNode) {
	if len(n.Arguments) != 3 {
		return
	}
	old, ok1 := n.Arguments[1].(*ast.StringNode)
	repl, ok2 := n.Arguments[2].(*ast.StringNode)
	if !ok1 || !ok2 || old.Value == "" {
		c.fail("replace: what to replace and by what must be constant strings, the first not empty")
		return
	}
	if len(repl.Value) > len(old.Value) {
		c.growth *= (len(repl.Value) + len(old.Value) - 1) / len(old.Value)
		if c.growth > maxGrowth {
			c.fail("replace calls may grow a string %d-fold, more than the limit of %d", c.growth, maxGrowth)
		}
	}
}

// rangeSize is the size of a range a..b with constant bounds.
func (c *coster) rangeSize(n *ast.BinaryNode) size {
	s, why := rangeOf(n)
	if why != "" {
		c.fail("%s", why)
	}
	return s
}

// rangeOf is the size of the range a..b, known when its bounds are
// constant integers and it has at most MaxRange elements; otherwise why
// says which rule it breaks.
func rangeOf(n *ast.BinaryNode) (s size, why string) {
	lo, ok1 := constInt(n.Left)
	hi, ok2 := constInt(n.Right)
	switch {
	case !ok1 || !ok2:
		return unknown, fmt.Sprintf("range %s: its bounds must be constant integers", ast.Node(n).String())
	case hi < lo:
		return size{n: 0, fromRange: true}, ""
	case hi-lo >= MaxRange:
		return unknown, fmt.Sprintf("range %d..%d: more than the limit of %d elements", lo, hi, MaxRange)
	}
	return size{n: hi - lo + 1, fromRange: true}, ""
}

func constInt(n ast.Node) (int, bool) {
	switch n := n.(type) {
	case *ast.IntegerNode:
		return n.Value, true
	case *ast.UnaryNode:
		if v, ok := constInt(n.Node); ok && n.Operator == "-" {
			return -v, true
		}
	}
	return 0, false
}

// size returns what is known of the size of collection n.
func (c *coster) size(n ast.Node, vars map[string]size) size {
	switch n := n.(type) {
	case *ast.IdentifierNode:
		if s, ok := vars[n.Value]; ok {
			return s
		}
		if limit, ok := c.lists[n.Value]; ok {
			return size{n: limit}
		}
	case *ast.MemberNode:
		if limit, ok := c.lists[strings.TrimPrefix(path(n), "$env.")]; ok {
			return size{n: limit}
		}
	case *ast.ChainNode:
		return c.size(n.Node, vars)
	case *ast.SliceNode:
		return c.size(n.Node, vars)
	case *ast.BinaryNode:
		if n.Operator == ".." {
			s, _ := rangeOf(n)
			return s
		}
	case *ast.ArrayNode:
		return size{n: len(n.Nodes)}
	case *ast.MapNode:
		return size{n: len(n.Pairs)}
	case *ast.ConditionalNode:
		a, b := c.size(n.Exp1, vars), c.size(n.Exp2, vars)
		if a.n < 0 || b.n < 0 {
			return unknown
		}
		return size{n: max(a.n, b.n), fromRange: a.fromRange || b.fromRange}
	case *ast.BuiltinNode:
		if len(n.Arguments) == 0 {
			return unknown
		}
		if sameSize[n.Name] {
			return c.size(n.Arguments[0], vars)
		}
		if n.Name == "concat" {
			total := size{}
			for _, a := range n.Arguments {
				s := c.size(a, vars)
				if s.n < 0 {
					return unknown
				}
				total.n += s.n
				total.fromRange = total.fromRange || s.fromRange
			}
			return total
		}
	}
	return unknown
}

// path returns "a.b.c" for a chain of constant member accesses, "" for
// anything else.
func path(n ast.Node) string {
	switch n := n.(type) {
	case *ast.IdentifierNode:
		return n.Value
	case *ast.MemberNode:
		prop, ok := n.Property.(*ast.StringNode)
		if !ok {
			return ""
		}
		if p := path(n.Node); p != "" {
			return p + "." + prop.Value
		}
	case *ast.ChainNode:
		return path(n.Node)
	}
	return ""
}

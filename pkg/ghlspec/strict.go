package ghlspec

import (
	"encoding/json"

	"github.com/getkin/kin-openapi/openapi3"
)

// closeObjects forbids undeclared properties in every object schema that
// declares properties and says nothing about others. The official files
// leave objects open, which would let a misspelt field name (profileID for
// profileId) pass unnoticed; closed, a typo on either side fails the check.
func closeObjects(doc *openapi3.T) {
	seen := map[*openapi3.Schema]bool{}
	var visit func(*openapi3.SchemaRef)
	visit = func(r *openapi3.SchemaRef) {
		if r == nil || r.Value == nil || seen[r.Value] {
			return
		}
		s := r.Value
		seen[s] = true
		if len(s.Properties) > 0 && s.AdditionalProperties.Has == nil && s.AdditionalProperties.Schema == nil &&
			len(s.AllOf) == 0 && len(s.AnyOf) == 0 && len(s.OneOf) == 0 {
			no := false
			s.AdditionalProperties.Has = &no
		}
		for _, p := range s.Properties {
			visit(p)
		}
		visit(s.Items)
		visit(s.AdditionalProperties.Schema)
		for _, list := range [][]*openapi3.SchemaRef{s.AllOf, s.AnyOf, s.OneOf} {
			for _, x := range list {
				visit(x)
			}
		}
	}
	if doc.Components != nil {
		for _, r := range doc.Components.Schemas {
			visit(r)
		}
	}
	eachOperation(doc, func(_ string, op *openapi3.Operation) {
		if op.RequestBody != nil && op.RequestBody.Value != nil {
			for _, mt := range op.RequestBody.Value.Content {
				visit(mt.Schema)
			}
		}
		for _, resp := range op.Responses.Map() {
			if resp.Value != nil {
				for _, mt := range resp.Value.Content {
					visit(mt.Schema)
				}
			}
		}
	})
}

// withoutTraceID drops a top-level traceId string, which HighLevel adds to
// every response whether its schema declares it or not.
func withoutTraceID(body []byte) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return body
	}
	var id string
	if raw, ok := m["traceId"]; !ok || json.Unmarshal(raw, &id) != nil {
		return body
	}
	delete(m, "traceId")
	out, err := json.Marshal(m)
	if err != nil {
		return body
	}
	return out
}

package ghlspec

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// Deviation is one named, deliberate departure from the official files.
type Deviation struct {
	// Name is a short identifier.
	Name string
	// Why says what the files declare and why socialsync does otherwise.
	Why   string
	patch func(*openapi3.T)
}

// Deviations lists every place the checks differ from the official files.
// Keep it short: each entry is a defect of the files, not of socialsync.
var Deviations = []Deviation{
	{
		Name: "version-2023-02-21",
		Why: "The files allow only Version 2021-07-28, but HighLevel's official Node SDK sends 2023-02-21 by default " +
			"and the live API accepts it.",
		patch: func(doc *openapi3.T) {
			eachOperation(doc, func(_ string, op *openapi3.Operation) {
				for _, p := range op.Parameters {
					if p.Value != nil && p.Value.In == "header" && p.Value.Name == "Version" &&
						p.Value.Schema != nil && p.Value.Schema.Value != nil && len(p.Value.Schema.Value.Enum) > 0 {
						s := *p.Value.Schema.Value
						s.Enum = append(append([]any{}, s.Enum...), "2023-02-21")
						p.Value.Schema = openapi3.NewSchemaRef("", &s)
					}
				}
			})
		},
	},
	{
		Name: "bulk-tags-responses-objects",
		Why: "UpdateTagsResponseDTO declares responses as an array of strings; its own example, and the live API, " +
			"return one object per contact (contactId, message, type, oldTags, tagsAdded, tagsRemoved).",
		patch: func(doc *openapi3.T) {
			if s := component(doc, "UpdateTagsResponseDTO"); s != nil {
				if r := s.Properties["responses"]; r != nil && r.Value != nil {
					v := *r.Value
					v.Items = openapi3.NewSchemaRef("", openapi3.NewObjectSchema().
						WithProperty("contactId", openapi3.NewStringSchema()).
						WithProperty("message", openapi3.NewStringSchema()).
						WithProperty("type", openapi3.NewStringSchema().WithEnum("success", "error")).
						WithProperty("oldTags", openapi3.NewArraySchema().WithItems(openapi3.NewStringSchema())).
						WithProperty("tagsAdded", openapi3.NewArraySchema().WithItems(openapi3.NewStringSchema())).
						WithProperty("tagsRemoved", openapi3.NewArraySchema().WithItems(openapi3.NewStringSchema())))
					v.Items.Value.Required = []string{"contactId", "message", "type"}
					s.Properties["responses"] = openapi3.NewSchemaRef("", &v)
				}
			}
		},
	},
	{
		Name: "post-enums-strings",
		Why: "GetPostFormattedSchema declares type and status, and SearchPostDTO postType, as objects; their " +
			"descriptions and examples are strings (\"post\", \"published\").",
		patch: func(doc *openapi3.T) {
			for schema, fields := range map[string][]string{
				"GetPostFormattedSchema": {"type", "status"},
				"SearchPostDTO":          {"postType"},
			} {
				if s := component(doc, schema); s != nil {
					for _, f := range fields {
						if p := s.Properties[f]; p != nil {
							s.Properties[f] = openapi3.NewSchemaRef("", openapi3.NewStringSchema())
						}
					}
				}
			}
		},
	},
	{
		Name: "bulk-tags-type-parameter",
		Why: "The path /contacts/bulk/tags/update/{type} does not declare its {type} parameter; add and remove are " +
			"the values HighLevel documents in the operation's description.",
		patch: func(doc *openapi3.T) {
			eachOperation(doc, func(path string, op *openapi3.Operation) {
				if strings.HasSuffix(path, "/bulk/tags/update/{type}") && op.Parameters.GetByInAndName("path", "type") == nil {
					op.Parameters = append(op.Parameters, &openapi3.ParameterRef{Value: openapi3.NewPathParameter("type").
						WithSchema(openapi3.NewStringSchema().WithEnum("add", "remove"))})
				}
			})
		},
	},
	{
		Name: "error-body-fields",
		Why: "The common error schemas declare only statusCode and message (and error on 401/422), but HighLevel's " +
			"real 400 bodies carry error as well (\"error\":\"Bad Request\", docs issue 178), and the OAuth token " +
			"endpoint's errors are taken to carry RFC 6749's error and error_description (invalid_grant).",
		patch: func(doc *openapi3.T) {
			eachOperation(doc, func(_ string, op *openapi3.Operation) {
				for code, resp := range op.Responses.Map() {
					if !strings.HasPrefix(code, "4") || resp.Value == nil {
						continue
					}
					for _, mt := range resp.Value.Content {
						if mt.Schema == nil || mt.Schema.Value == nil || mt.Schema.Value.Properties["statusCode"] == nil {
							continue
						}
						for _, f := range []string{"error", "error_description"} {
							if mt.Schema.Value.Properties[f] == nil {
								mt.Schema.Value.Properties[f] = openapi3.NewSchemaRef("", openapi3.NewStringSchema())
							}
						}
					}
				}
			})
		},
	},
	{
		Name: "location-token-refresh-token",
		Why: "GetLocationAccessTokenSuccessfulResponseDto lacks refresh_token, which /oauth/locationToken does return " +
			"(docs issue 285; the v3 schema added it).",
		patch: func(doc *openapi3.T) {
			if s := component(doc, "GetLocationAccessTokenSuccessfulResponseDto"); s != nil && s.Properties["refresh_token"] == nil {
				s.Properties["refresh_token"] = openapi3.NewSchemaRef("", openapi3.NewStringSchema())
			}
		},
	},
	{
		Name: "undeclared-error-statuses",
		Why: "Most operations declare only 400/401/422, yet HighLevel answers 403 (wrong location), 404, 429 " +
			"(rate limit) and 5xx. Those are checked against the common error shape: statusCode and message.",
	},
	{
		Name: "trace-id",
		Why: "HighLevel returns traceId with every response (OAuth overview), but most response schemas omit it; " +
			"a top-level traceId string is accepted everywhere.",
	},
}

func eachOperation(doc *openapi3.T, f func(path string, op *openapi3.Operation)) {
	for path, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			f(path, op)
		}
	}
}

func component(doc *openapi3.T, name string) *openapi3.Schema {
	if doc.Components == nil {
		return nil
	}
	if r := doc.Components.Schemas[name]; r != nil {
		return r.Value
	}
	return nil
}

func undeclaredErrorStatus(status int) bool {
	return status == 403 || status == 404 || status == 429 || status >= 500
}

// checkCommonError checks the shape every HighLevel error body shares.
func checkCommonError(status int, body []byte) error {
	var e struct {
		StatusCode *float64        `json:"statusCode"`
		Message    json.RawMessage `json:"message"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		return fmt.Errorf("error body is not a JSON object: %w", err)
	}
	if e.StatusCode == nil || int(*e.StatusCode) != status {
		return fmt.Errorf("error body statusCode does not say %d", status)
	}
	var s string
	var list []string
	if json.Unmarshal(e.Message, &s) != nil && json.Unmarshal(e.Message, &list) != nil {
		return fmt.Errorf("error body message is neither a string nor a list of strings")
	}
	return nil
}

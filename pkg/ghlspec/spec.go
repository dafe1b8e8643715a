// Package ghlspec checks HTTP traffic against HighLevel's official OpenAPI
// files. The simulator's responses and the client's requests are both
// validated with it, so neither can drift from what HighLevel documents.
//
// The files stay outside the repository (see Locate). They have known
// defects; the few places where socialsync deliberately departs from them
// are listed, by name, in Deviations.
package ghlspec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Files are the official files, relative to the folder, that socialsync's
// HighLevel surface is checked against.
var Files = []string{
	"apps/social-media-posting.json",
	"apps/contacts.json",
	"apps/locations.json",
	"apps/oauth.json",
}

// ErrNoRoute is returned for a request that no official operation matches.
var ErrNoRoute = errors.New("no operation in the official files matches")

// Spec holds the loaded official files with the deviations applied.
type Spec struct {
	routers []routers.Router
}

// Load reads Files from dir, applies Deviations and prepares routing.
func Load(dir string) (*Spec, error) {
	s := &Spec{}
	for _, f := range Files {
		loader := openapi3.NewLoader()
		loader.IsExternalRefsAllowed = true
		doc, err := loader.LoadFromFile(filepath.Join(dir, f))
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", f, err)
		}
		for _, d := range Deviations {
			if d.patch != nil {
				d.patch(doc)
			}
		}
		closeObjects(doc)
		// Route on paths alone: the simulator runs on a loopback address,
		// not on services.leadconnectorhq.com.
		doc.Servers = nil
		for _, p := range doc.Paths.Map() {
			p.Servers = nil
		}
		r, err := gorillamux.NewRouter(doc)
		if err != nil {
			return nil, fmt.Errorf("route %s: %w", f, err)
		}
		s.routers = append(s.routers, r)
	}
	return s, nil
}

// Locate returns the folder of the official files: SOCIALSYNC_GHL_OPENAPI_DIR
// when set, else ../shared/ghl-openapi beside the workspace root (the folder
// holding go.work), found by walking up from the working directory. ok is
// false when the folder does not exist.
func Locate() (dir string, ok bool) {
	if d := os.Getenv("SOCIALSYNC_GHL_OPENAPI_DIR"); d != "" {
		return d, isDir(d)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "../shared/ghl-openapi", false
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
			dir = filepath.Join(d, "..", "shared", "ghl-openapi")
			return dir, isDir(dir)
		}
		if filepath.Dir(d) == d {
			return "../shared/ghl-openapi", isDir("../shared/ghl-openapi")
		}
	}
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// Exempt reports whether a path is outside HighLevel's API surface and so
// not checked: the simulator's admin API and the marketplace's consent page.
func Exempt(path string) bool {
	return strings.HasPrefix(path, "/_sandbox/") || path == "/_sandbox" ||
		strings.HasPrefix(path, "/oauth/chooselocation")
}

func (s *Spec) route(req *http.Request) (*routers.Route, map[string]string, error) {
	for _, r := range s.routers {
		route, params, err := r.FindRoute(req)
		if err == nil {
			return route, params, nil
		}
	}
	return nil, nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, ErrNoRoute)
}

func options() *openapi3filter.Options {
	return &openapi3filter.Options{
		// Authentication is the simulator's own business and is tested
		// there; the files' security blocks are incomplete anyway.
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus: true,
		MultiError:            true,
		SkipSettingDefaults:   true,
	}
}

// ValidateRequest checks a request (with its body, already read) against its
// official operation.
func (s *Spec) ValidateRequest(ctx context.Context, req *http.Request, body []byte) error {
	_, err := s.validateRequest(ctx, req, body)
	return err
}

func (s *Spec) validateRequest(ctx context.Context, req *http.Request, body []byte) (*openapi3filter.RequestValidationInput, error) {
	route, params, err := s.route(req)
	if err != nil {
		return nil, err
	}
	r := req.Clone(ctx)
	r.Body = io.NopCloser(bytes.NewReader(body))
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: options()}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		return in, fmt.Errorf("request %s %s (%s): %w", req.Method, req.URL.Path, route.Operation.OperationID, err)
	}
	return in, nil
}

// ValidateResponse checks a response to req against the operation's declared
// responses: its status must be declared (200 and 201 are not
// interchangeable) and its body must match the declared schema. Error
// statuses HighLevel sends without declaring them (403, 404, 429, 5xx) are
// checked against the common error shape instead (see Deviations).
func (s *Spec) ValidateResponse(ctx context.Context, req *http.Request, reqBody []byte, status int, header http.Header, body []byte) error {
	route, params, err := s.route(req)
	if err != nil {
		return err
	}
	r := req.Clone(ctx)
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: options()}
	op := route.Operation
	if op.Responses.Value(fmt.Sprint(status)) == nil && undeclaredErrorStatus(status) {
		if err := checkCommonError(status, body); err != nil {
			return fmt.Errorf("response %d to %s %s (%s): %w", status, req.Method, req.URL.Path, op.OperationID, err)
		}
		return nil
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 status,
		Header:                 header,
		Options:                options(),
	}
	out.SetBodyBytes(withoutTraceID(body))
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("response %d to %s %s (%s): %w", status, req.Method, req.URL.Path, op.OperationID, err)
	}
	return nil
}

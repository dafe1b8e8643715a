package ghlsim

import (
	"html/template"
	"net/http"
)

// consentTmpl is the authorization page with the consent page on: the
// app, the scopes, the sub-account to install on and two buttons that POST
// the form back to /oauth/chooselocation.
var consentTmpl = template.Must(template.New("consent").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Install {{.App}}</title></head>
<body>
<h1>Install {{.App}}</h1>
<p>The app asks for: <span id="scopes">{{.Scopes}}</span></p>
<form method="post" action="{{.Action}}">
{{range .Hidden}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<label>Sub-account <select name="location_id" id="location">
{{range .Locations}}<option value="{{.ID}}"{{if .Selected}} selected{{end}}>{{.Name}}</option>
{{end}}</select></label>
<button type="submit" name="decision" value="approve" id="approve">Approve</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button>
</form>
</body></html>
`))

type consentOption struct {
	ID, Name string
	Selected bool
}

type hiddenField struct{ Name, Value string }

// consentPage shows the form for ar.
func (s *Simulator) consentPage(w http.ResponseWriter, ar authorization) {
	data := struct {
		App, Scopes, Action string
		Hidden              []hiddenField
		Locations           []consentOption
	}{App: ar.app.clientID, Scopes: ar.scopeText, Action: "/oauth/chooselocation"}
	for _, k := range []string{"response_type", "client_id", "redirect_uri", "scope", "state"} {
		if v := ar.q.Get(k); v != "" {
			data.Hidden = append(data.Hidden, hiddenField{k, v})
		}
	}
	for _, l := range s.companyLocations(ar.app.companyID) {
		data.Locations = append(data.Locations, consentOption{ID: l.id, Name: l.name, Selected: l == ar.loc})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = consentTmpl.Execute(w, data)
}

// consent answers POST /oauth/chooselocation, the consent form: Approve
// issues the code and redirects as the page would have at once; Deny
// redirects with error=access_denied and the state.
func (s *Simulator) consent(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		writeBadRequest(w, "the body must be application/x-www-form-urlencoded")
		return
	}
	ar, ok := s.authorizeRequest(w, r.PostForm)
	if !ok {
		return
	}
	if r.PostForm.Get("decision") == "deny" {
		redirect := *ar.redirect
		v := redirect.Query()
		v.Set("error", "access_denied")
		v.Set("error_description", "The user denied the installation")
		if state := ar.q.Get("state"); state != "" {
			v.Set("state", state)
		}
		redirect.RawQuery = v.Encode()
		http.Redirect(w, r, redirect.String(), http.StatusFound)
		return
	}
	s.approve(w, r, ar)
}

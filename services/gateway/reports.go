package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/report"
	"github.com/socialsync/socialsync/pkg/report/source"
)

// defaultReportDays is the range of a report asked for with no from: the
// 28 days before today, as `socialsync report` and the stats worker.
const defaultReportDays = 28

// storedReport is a report the stats worker stored, in every format it
// was stored in.
type storedReport struct {
	From      string    `json:"from"`
	To        string    `json:"to"`
	Formats   []string  `json:"formats"`
	UpdatedAt time.Time `json:"updatedAt"`
	Bytes     uint64    `json:"bytes"`
}

type reportList struct {
	Items      []storedReport `json:"items"`
	Latest     *reportRange   `json:"latest,omitempty"`
	NextCursor string         `json:"nextCursor,omitempty"`
}

type reportRange struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// listReports lists the reports stored for a location, the latest range
// first.
func (g *Gateway) listReports(w http.ResponseWriter, r *http.Request) {
	l, ok := g.location(w, r)
	if !ok {
		return
	}
	p, ok := parsePage(w, r)
	if !ok {
		return
	}
	objects, err := g.reports.List(r.Context())
	if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
		g.storeError(w, "list reports", err)
		return
	}
	byRange := map[reportRange]*storedReport{}
	out := reportList{Items: []storedReport{}}
	var latest time.Time
	for _, o := range objects {
		name, found := strings.CutPrefix(o.Name, l.ID+"/")
		if !found || o.Deleted {
			continue
		}
		base, ext, _ := strings.Cut(name, ".")
		from, to, isRange := strings.Cut(base, "_")
		if !isRange {
			continue // latest.*
		}
		k := reportRange{from, to}
		s := byRange[k]
		if s == nil {
			s = &storedReport{From: from, To: to}
			byRange[k] = s
		}
		s.Formats = append(s.Formats, ext)
		s.Bytes += o.Size
		if o.ModTime.After(s.UpdatedAt) {
			s.UpdatedAt = o.ModTime
		}
		if ext == string(report.JSON) && o.ModTime.After(latest) {
			latest = o.ModTime
			out.Latest = &reportRange{from, to}
		}
	}
	for _, s := range byRange {
		sort.Strings(s.Formats)
		out.Items = append(out.Items, *s)
	}
	sort.Slice(out.Items, func(i, j int) bool {
		a, b := out.Items[i], out.Items[j]
		if a.To != b.To {
			return a.To > b.To
		}
		return a.From > b.From
	})
	lo, hi, next := p.window(len(out.Items))
	out.Items, out.NextCursor = out.Items[lo:hi], next
	writeJSON(w, http.StatusOK, out)
}

// reportFormat reads ?format= (default json); it answers 400 and returns
// false on an unknown format.
func reportFormat(w http.ResponseWriter, r *http.Request) (report.Format, bool) {
	s := r.URL.Query().Get("format")
	if s == "" {
		return report.JSON, true
	}
	f, err := report.ParseFormat(s)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", clip(err.Error(), 128))
		return "", false
	}
	return f, true
}

// latestReport serves the report the stats worker stored last.
func (g *Gateway) latestReport(w http.ResponseWriter, r *http.Request) {
	l, ok := g.location(w, r)
	if !ok {
		return
	}
	f, ok := reportFormat(w, r)
	if !ok {
		return
	}
	data, err := g.reports.GetBytes(r.Context(), report.LatestName(l.ID, f))
	switch {
	case errors.Is(err, jetstream.ErrObjectNotFound):
		writeError(w, http.StatusNotFound, "not_found", "no report stored for "+l.ID+" yet: the stats worker stores one after each day's statistics; ask for a range (reports/range) to build one now")
		return
	case err != nil:
		g.storeError(w, "read report", err)
		return
	}
	serveReport(w, f, data, "stored")
}

// rangeReport serves a location's report of from … to: the stored one,
// or one built now from the statistics history (as `socialsync report`).
func (g *Gateway) rangeReport(w http.ResponseWriter, r *http.Request) {
	l, ok := g.location(w, r)
	if !ok {
		return
	}
	f, ok := reportFormat(w, r)
	if !ok {
		return
	}
	tz := report.Zone(l.Timezone)
	from, to, ok := dayQuery(w, r)
	if !ok {
		return
	}
	if to == "" {
		to, _ = report.Shift(report.Day(g.now(), tz), -1)
	}
	if from == "" {
		from, _ = report.Shift(to, 1-defaultReportDays)
	}
	// Checked from the dates alone, before anything is built or read.
	if _, err := report.DayCount(from, to); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "from/to: "+clip(err.Error(), 128))
		return
	}
	data, err := g.reports.GetBytes(r.Context(), report.Name(l.ID, from, to, f))
	if err == nil {
		serveReport(w, f, data, "stored")
		return
	}
	if !errors.Is(err, jetstream.ErrObjectNotFound) {
		g.storeError(w, "read report", err)
		return
	}
	rep, err := g.reportSources().Build(r.Context(), l.ID, tz, from, to, g.now())
	if errors.Is(err, report.ErrInvalidInput) {
		writeError(w, http.StatusBadRequest, "bad_request", clip(err.Error(), 160))
		return
	}
	if err != nil {
		g.storeError(w, "build report", err)
		return
	}
	var b bytes.Buffer
	if err := report.Write(&b, rep, f); err != nil {
		g.log.Error("render report", "location", l.ID, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "the report could not be rendered")
		return
	}
	serveReport(w, f, b.Bytes(), "built")
}

func (g *Gateway) reportSources() source.Buckets {
	return source.Buckets{History: g.kv.history, Relations: g.kv.relations, Details: g.kv.details}
}

// serveReport writes a report. Its HTML styles itself inline and runs no
// script: it gets a policy of its own.
func serveReport(w http.ResponseWriter, f report.Format, data []byte, source string) {
	h := w.Header()
	h.Set("Content-Type", f.ContentType())
	h.Set("Cache-Control", "no-store")
	h.Set("X-Socialsync-Report", source)
	if f == report.HTML {
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'")
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

// recommendations are a location's recommendations as the API shows them.
type recommendations struct {
	Location    string    `json:"location"`
	Source      string    `json:"source"` // "stored" or "built"
	GeneratedAt time.Time `json:"generatedAt"`
	report.Recommendations
}

// getRecommendations serves the recommendations of the latest stored
// report; with none stored yet, those of the default range built now.
// Platforms without enough data say so, with what is missing.
func (g *Gateway) getRecommendations(w http.ResponseWriter, r *http.Request) {
	l, ok := g.location(w, r)
	if !ok {
		return
	}
	data, err := g.reports.GetBytes(r.Context(), report.LatestName(l.ID, report.JSON))
	var rep report.Report
	source := "stored"
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &rep); err != nil {
			g.log.Warn("stored report unreadable", "location", l.ID, "err", err)
			writeError(w, http.StatusInternalServerError, "internal", "the latest stored report of "+l.ID+" is unreadable")
			return
		}
	case errors.Is(err, jetstream.ErrObjectNotFound):
		tz := report.Zone(l.Timezone)
		to, _ := report.Shift(report.Day(g.now(), tz), -1)
		from, _ := report.Shift(to, 1-defaultReportDays)
		if rep, err = g.reportSources().Build(r.Context(), l.ID, tz, from, to, g.now()); err != nil {
			g.storeError(w, "build recommendations", err)
			return
		}
		source = "built"
	default:
		g.storeError(w, "read report", err)
		return
	}
	out := recommendations{Location: l.ID, Source: source, GeneratedAt: rep.GeneratedAt, Recommendations: rep.Recommendations}
	if out.Cadence == nil {
		out.Cadence = []report.Cadence{}
	}
	if out.BestPlatforms == nil {
		out.BestPlatforms = []string{}
	}
	if out.Audience == nil {
		out.Audience = []report.Audience{}
	}
	writeJSON(w, http.StatusOK, out)
}

// Package telemetrytest reads a process's metrics the way Prometheus does:
// over HTTP from its /metrics page, in the text exposition format.
package telemetrytest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Sample is one line of a metrics page: a series and its value.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Page is a scraped metrics page.
type Page struct {
	// Text is the page as served.
	Text    string
	Samples []Sample
}

// Scrape GETs url (a /metrics address) and parses the page, failing the
// test when the answer is not a 200 in the text format.
func Scrape(tb testing.TB, url string) *Page {
	tb.Helper()
	p, err := ScrapeErr(url)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// ScrapeErr is Scrape returning the error, for polling.
func ScrapeErr(url string) (*Page, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s: %.200s", url, resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		return nil, fmt.Errorf("scrape %s: content type %q, want the text format", url, ct)
	}
	return Parse(string(body))
}

var labelRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

// Parse reads a page in the Prometheus text exposition format.
func Parse(text string) (*Page, error) {
	p := &Page{Text: text}
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s := Sample{Labels: map[string]string{}}
		rest := line
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			if j < i {
				return nil, fmt.Errorf("unreadable line %q", line)
			}
			s.Name = line[:i]
			for _, m := range labelRE.FindAllStringSubmatch(line[i+1:j], -1) {
				v, err := strconv.Unquote(`"` + m[2] + `"`)
				if err != nil {
					return nil, fmt.Errorf("unreadable label in %q: %v", line, err)
				}
				s.Labels[m[1]] = v
			}
			rest = strings.TrimSpace(line[j+1:])
		} else {
			name, value, ok := strings.Cut(line, " ")
			if !ok {
				return nil, fmt.Errorf("unreadable line %q", line)
			}
			s.Name, rest = name, value
		}
		value, _, _ := strings.Cut(rest, " ") // a timestamp may follow
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return nil, fmt.Errorf("unreadable value in %q: %v", line, err)
		}
		s.Value = v
		p.Samples = append(p.Samples, s)
	}
	return p, nil
}

// Find returns the samples of the named metric whose labels include
// labels, given as name, value pairs.
func (p *Page) Find(name string, labels ...string) []Sample {
	var out []Sample
	for _, s := range p.Samples {
		if s.Name == name && matches(s, labels) {
			out = append(out, s)
		}
	}
	return out
}

// Sum adds up the values of Find(name, labels...): 0 when none matches.
func (p *Page) Sum(name string, labels ...string) float64 {
	var sum float64
	for _, s := range p.Find(name, labels...) {
		sum += s.Value
	}
	return sum
}

// Has reports whether any sample of name has labels.
func (p *Page) Has(name string, labels ...string) bool { return len(p.Find(name, labels...)) > 0 }

func matches(s Sample, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		if s.Labels[labels[i]] != labels[i+1] {
			return false
		}
	}
	return true
}

// LabelValues returns every value label takes in the samples of name.
func (p *Page) LabelValues(name, label string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range p.Samples {
		if v, ok := s.Labels[label]; ok && s.Name == name && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

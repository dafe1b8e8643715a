package report

import (
	"fmt"
	"html"
	"html/template"
	"io"
	"strings"
)

// palette colours the platforms' lines, in the order they are listed.
var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"}

var page = template.Must(template.New("report").Funcs(template.FuncMap{"num": num, "pct": pct, "join": strings.Join}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Social statistics of {{.R.Location}}, {{.R.From}} … {{.R.To}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:70rem}
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ccc;padding:.3rem .6rem}td.n{text-align:right}
.muted{color:#777}svg{background:#fafafa;border:1px solid #eee}
</style></head><body>
<h1>Social statistics of {{.R.Location}}, {{.R.From}} … {{.R.To}}</h1>
<p class="muted">Generated {{.R.GeneratedAt.Format "2006-01-02 15:04Z"}}; compared with {{.R.PreviousFrom}} … {{.R.PreviousTo}}.{{if .R.MissingDays}} Days without statistics: {{join .R.MissingDays ", "}}.{{end}}</p>
<h2>Platforms</h2>
<table><tr><th>platform</th><th>posts</th><th>Δ</th><th>impressions</th><th>Δ</th><th>likes</th><th>Δ</th><th>followers</th><th>Δ</th></tr>
{{range .Rows}}<tr><td>{{.Platform}}</td><td class="n">{{num .Posts}}</td><td class="n">{{pct .PostsChange}}</td><td class="n">{{num .Impressions}}</td><td class="n">{{pct .ImpressionsChange}}</td><td class="n">{{num .Likes}}</td><td class="n">{{pct .LikesChange}}</td><td class="n">{{num .Followers}}</td><td class="n">{{pct .FollowersChange}}</td></tr>
{{end}}</table>
<h2>Impressions per day</h2>
{{.Trend}}
<h2>Tags</h2>
{{.TagChart}}
<table><tr><th>tag</th><th>posts</th><th>contacts reached</th><th>previous posts</th><th>Δ</th></tr>
{{range .R.Tags}}<tr><td>{{.Name}}</td><td class="n">{{.Posts}}</td><td class="n">{{.Contacts}}</td><td class="n">{{.PreviousPosts}}</td><td class="n">{{pct .PostsChange}}</td></tr>
{{end}}</table>
<p>Top tags: {{range $i, $t := .R.TopTags}}{{if $i}}, {{end}}{{$t.Name}}{{else}}none{{end}}. Fading tags: {{range $i, $t := .R.FadingTags}}{{if $i}}, {{end}}{{$t.Name}}{{else}}none{{end}}.</p>
<h2>Recommendations</h2>
<ul>
{{range .R.Recommendations.Cadence}}{{if eq .Status "ok"}}<li><b>{{.Platform}}</b> cadence: post on {{join .BestWeekdays " and "}}, {{.SuggestedPostsPerWeek}} posts a week (now {{num .PostsPerWeek}}; {{num .ImpressionsPerPost}} impressions and {{num .LikesPerPost}} likes per post over {{.Days}} days, trend {{pct .TrendPercent}}).</li>
{{else}}<li><b>{{.Platform}}</b> cadence: not enough data (need {{join .Missing "; "}}).</li>
{{end}}{{end}}{{if .R.Recommendations.BestPlatforms}}<li>Best platforms by impressions per post: {{join .R.Recommendations.BestPlatforms ", "}}.</li>
{{end}}{{range .R.Recommendations.Audience}}{{if eq .Status "ok"}}<li><b>{{.Platform}}</b> audience: mostly {{.Gender}} ({{num .GenderShare}}%), aged {{.AgeBand}} ({{num .AgeShare}}%) of {{num .Followers}} followers.</li>
{{else}}<li><b>{{.Platform}}</b> audience: not enough data (need {{join .Missing "; "}}).</li>
{{end}}{{end}}</ul>
</body></html>
`))

func writeHTML(w io.Writer, r Report) error {
	return page.Execute(w, struct {
		R        Report
		Rows     []PlatformTotals
		Trend    template.HTML
		TagChart template.HTML
	}{r, append(append([]PlatformTotals{}, r.Platforms...), r.Total), trendChart(r), tagChart(r)})
}

// trendChart draws each platform's daily impressions as a line. Every
// text in it is escaped; the rest is numbers.
func trendChart(r Report) template.HTML {
	const w, h, pad = 720.0, 240.0, 40.0
	if len(r.Series) == 0 {
		return `<p class="muted">No statistics in the range.</p>`
	}
	var platforms []string
	seen := map[string]bool{}
	top := 0.0
	for _, d := range r.Series {
		for _, p := range sortedKeys(d.Platforms) {
			if !seen[p] {
				seen[p] = true
				platforms = append(platforms, p)
			}
			top = max(top, d.Platforms[p].Impressions)
		}
	}
	if top == 0 {
		top = 1
	}
	x := func(i int) float64 {
		if len(r.Series) == 1 {
			return pad
		}
		return pad + float64(i)*(w-2*pad)/float64(len(r.Series)-1)
	}
	y := func(v float64) float64 { return h - pad - v/top*(h-2*pad) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img" aria-label="impressions per day and platform">`, w, h+20*float64(len(platforms)), w, h+20*float64(len(platforms)))
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#999"/>`, pad, h-pad, w-pad, h-pad)
	fmt.Fprintf(&b, `<text x="2" y="%.0f" font-size="10">%s</text><text x="2" y="%.0f" font-size="10">0</text>`, pad, num(top), h-pad)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="10">%s</text><text x="%.0f" y="%.0f" font-size="10" text-anchor="end">%s</text>`,
		pad, h-pad+14, r.Series[0].Day, w-pad, h-pad+14, r.Series[len(r.Series)-1].Day)
	for k, p := range platforms {
		color := palette[k%len(palette)]
		var pts []string
		for i, d := range r.Series {
			if v, ok := d.Platforms[p]; ok {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(v.Impressions)))
			}
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, color, strings.Join(pts, " "))
		ly := h + 20*float64(k)
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="12" height="12" fill="%s"/><text x="%.0f" y="%.0f" font-size="12">%s</text>`,
			pad, ly, color, pad+18, ly+11, html.EscapeString(p))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // numbers and escaped names only
}

// tagChart draws the posts of the most active tags as bars.
func tagChart(r Report) template.HTML {
	rows := r.Tags
	if len(rows) > 10 {
		rows = rows[:10]
	}
	if len(rows) == 0 || rows[0].Posts == 0 {
		return `<p class="muted">No tagged posts in the range.</p>`
	}
	const w, bar, label = 720.0, 22.0, 180.0
	top := float64(rows[0].Posts)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" role="img" aria-label="posts per tag">`, w, bar*float64(len(rows))+10)
	for i, t := range rows {
		yy := 5 + float64(i)*bar
		bw := float64(t.Posts) / top * (w - label - 60)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="12" text-anchor="end">%s</text>`, label-6, yy+14, html.EscapeString(t.Name))
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.1f" height="%.0f" fill="#1f77b4"/>`, label, yy+2, bw, bar-6)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" font-size="12">%d posts, %d contacts</text>`, label+bw+6, yy+14, t.Posts, t.Contacts)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // numbers and escaped names only
}

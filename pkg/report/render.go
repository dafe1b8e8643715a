package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Format is a report's output format.
type Format string

// The formats a report is written in.
const (
	JSON     Format = "json"
	CSV      Format = "csv"
	Markdown Format = "md"
	HTML     Format = "html"
)

// Formats lists every format, in the order the reports object store keeps
// them.
func Formats() []Format { return []Format{JSON, CSV, Markdown, HTML} }

// ParseFormat accepts json, csv, md (or markdown) and html.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "json":
		return JSON, nil
	case "csv":
		return CSV, nil
	case "md", "markdown":
		return Markdown, nil
	case "html":
		return HTML, nil
	}
	return "", fmt.Errorf("format %q: want json, csv, md or html", s)
}

// ContentType is the format's media type.
func (f Format) ContentType() string {
	switch f {
	case JSON:
		return "application/json"
	case CSV:
		return "text/csv; charset=utf-8"
	case Markdown:
		return "text/markdown; charset=utf-8"
	}
	return "text/html; charset=utf-8"
}

// Write writes r in format f.
func Write(w io.Writer, r Report, f Format) error {
	switch f {
	case JSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case CSV:
		return writeCSV(w, r)
	case Markdown:
		return writeMarkdown(w, r)
	case HTML:
		return writeHTML(w, r)
	}
	return fmt.Errorf("format %q: want json, csv, md or html", f)
}

// writeCSV writes the report as one long table that spreadsheets pivot:
// section, day, platform, tag, metric, value.
func writeCSV(w io.Writer, r Report) error {
	cw := csv.NewWriter(w)
	row := func(section, day, platform, tag, metric string, v float64) {
		_ = cw.Write([]string{section, day, textCell(platform), textCell(tag), metric, num(v)})
	}
	_ = cw.Write([]string{"section", "day", "platform", "tag", "metric", "value"})
	for _, p := range append(append([]PlatformTotals{}, r.Platforms...), r.Total) {
		row("totals", "", p.Platform, "", "posts", p.Posts)
		row("totals", "", p.Platform, "", "impressions", p.Impressions)
		row("totals", "", p.Platform, "", "likes", p.Likes)
		row("totals", "", p.Platform, "", "followers", p.Followers)
		for metric, c := range map[string]*float64{"posts_change_pct": p.PostsChange, "impressions_change_pct": p.ImpressionsChange,
			"likes_change_pct": p.LikesChange, "followers_change_pct": p.FollowersChange} {
			if c != nil {
				row("change", "", p.Platform, "", metric, *c)
			}
		}
	}
	for _, d := range r.Series {
		for _, p := range sortedKeys(d.Platforms) {
			v := d.Platforms[p]
			row("series", d.Day, p, "", "posts", v.Posts)
			row("series", d.Day, p, "", "impressions", v.Impressions)
			row("series", d.Day, p, "", "likes", v.Likes)
			row("series", d.Day, p, "", "followers", v.Followers)
		}
		row("series", d.Day, "all", "", "comments", d.Comments)
	}
	for _, t := range r.Tags {
		row("tags", "", "", t.Name, "posts", float64(t.Posts))
		row("tags", "", "", t.Name, "contacts", float64(t.Contacts))
		row("tags", "", "", t.Name, "previous_posts", float64(t.PreviousPosts))
	}
	for _, c := range r.Recommendations.Cadence {
		if c.Status == StatusOK {
			row("cadence", "", c.Platform, "", "suggested_posts_per_week", float64(c.SuggestedPostsPerWeek))
			row("cadence", "", c.Platform, "", "impressions_per_post", c.ImpressionsPerPost)
		}
	}
	cw.Flush()
	return cw.Error()
}

// textCell defuses a text cell of a CSV file that a spreadsheet would
// read as a formula (OWASP's "CSV injection"): one starting with '=', '+',
// '-', '@', a tab or a carriage return gets a leading apostrophe. Tag and
// platform names come from HighLevel, where anyone with access to a
// location can name a tag "=HYPERLINK(…)". Figures are written by num and
// never pass here, so a negative number stays a number.
func textCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// num writes a figure without exponent or trailing zeros.
func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func pct(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf("%+.2f%%", *v)
}

func writeMarkdown(w io.Writer, r Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Social statistics of %s, %s … %s\n\n", r.Location, r.From, r.To)
	fmt.Fprintf(&b, "Generated %s. Compared with %s … %s.", r.GeneratedAt.Format("2006-01-02 15:04Z"), r.PreviousFrom, r.PreviousTo)
	if len(r.MissingDays) > 0 {
		fmt.Fprintf(&b, " Days without statistics: %s.", strings.Join(r.MissingDays, ", "))
	}
	b.WriteString("\n\n## Platforms\n\n| platform | posts | Δ | impressions | Δ | likes | Δ | followers | Δ |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, p := range append(append([]PlatformTotals{}, r.Platforms...), r.Total) {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", mdEscape(p.Platform), num(p.Posts), pct(p.PostsChange),
			num(p.Impressions), pct(p.ImpressionsChange), num(p.Likes), pct(p.LikesChange), num(p.Followers), pct(p.FollowersChange))
	}
	b.WriteString("\n## Trend\n\n| day | posts | impressions | likes | comments |\n|---|---:|---:|---:|---:|\n")
	for _, d := range r.Series {
		t := d.Total()
		fmt.Fprintf(&b, "| %s %s | %s | %s | %s | %s |\n", d.Day, d.Weekday[:3], num(t.Posts), num(t.Impressions), num(t.Likes), num(d.Comments))
	}
	b.WriteString("\n## Tags\n\n| tag | posts | contacts reached | previous posts | Δ |\n|---|---:|---:|---:|---:|\n")
	for _, t := range r.Tags {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %s |\n", mdEscape(t.Name), t.Posts, t.Contacts, t.PreviousPosts, pct(t.PostsChange))
	}
	fmt.Fprintf(&b, "\nTop tags: %s. Fading tags: %s.\n", tagNames(r.TopTags), tagNames(r.FadingTags))
	b.WriteString("\n## Recommendations\n\n")
	for _, c := range r.Recommendations.Cadence {
		if c.Status != StatusOK {
			fmt.Fprintf(&b, "- **%s** cadence: not enough data (need %s).\n", mdEscape(c.Platform), strings.Join(c.Missing, "; "))
			continue
		}
		fmt.Fprintf(&b, "- **%s** cadence: post on %s, %d posts a week (now %s; %s impressions and %s likes per post over %d days, trend %s).\n",
			mdEscape(c.Platform), strings.Join(c.BestWeekdays, " and "), c.SuggestedPostsPerWeek, num(c.PostsPerWeek),
			num(c.ImpressionsPerPost), num(c.LikesPerPost), c.Days, pct(c.TrendPercent))
	}
	if len(r.Recommendations.BestPlatforms) > 0 {
		fmt.Fprintf(&b, "- Best platforms by impressions per post: %s.\n", strings.Join(r.Recommendations.BestPlatforms, ", "))
	}
	for _, a := range r.Recommendations.Audience {
		if a.Status != StatusOK {
			fmt.Fprintf(&b, "- **%s** audience: not enough data (need %s).\n", mdEscape(a.Platform), strings.Join(a.Missing, "; "))
			continue
		}
		fmt.Fprintf(&b, "- **%s** audience: mostly %s (%s%%), aged %s (%s%%) of %s followers.\n",
			mdEscape(a.Platform), a.Gender, num(a.GenderShare), a.AgeBand, num(a.AgeShare), num(a.Followers))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func tagNames(rows []TagRow) string {
	if len(rows) == 0 {
		return "none"
	}
	names := make([]string, len(rows))
	for i, t := range rows {
		names[i] = mdEscape(t.Name)
	}
	return strings.Join(names, ", ")
}

// mdEscape keeps a name from breaking a Markdown table.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "*", `\*`, "_", `\_`, "<", "&lt;", ">", "&gt;").Replace(s)
}

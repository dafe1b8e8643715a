package report_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/report"
)

// A report over exactly the window of one snapshot carries, per platform,
// the totals the statistics endpoint returned; with the snapshot of the
// week before, the change is the endpoint's change too.
func TestTotalsEqualTheEndpoint(t *testing.T) {
	const taken = "2026-03-18"
	sim := newSim(t, time.Now(), "facebook", "instagram", "instagram", "linkedin")
	snap := sim.snapshot(t, taken)
	before := sim.snapshot(t, day(t, taken, -7))
	from, to := day(t, taken, -7), day(t, taken, -1)

	r, err := report.Build(report.Input{Location: sim.loc, From: from, To: to, Snapshots: []report.Snapshot{before, snap}})
	if err != nil {
		t.Fatal(err)
	}
	st := snap.Answers[0]
	if len(r.Platforms) != 3 || len(r.MissingDays) != 0 {
		t.Fatalf("report: %d platforms, missing %v; want 3, none", len(r.Platforms), r.MissingDays)
	}
	for _, p := range r.Platforms {
		want := report.PlatformTotals{
			Platform: p.Platform, DaysCovered: 7,
			Posts:       st.Breakdowns.Posts.Platforms[p.Platform].Value,
			Impressions: st.PlatformTotals.Impressions[p.Platform].Total,
			Likes:       st.PlatformTotals.Likes[p.Platform].Total,
			Followers:   st.PlatformTotals.Followers[p.Platform].Total,
		}
		got := p
		got.PostsChange, got.ImpressionsChange, got.LikesChange, got.FollowersChange = nil, nil, nil, nil
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s totals (-endpoint +report):\n%s", p.Platform, diff)
		}
		if p.ImpressionsChange == nil || *p.ImpressionsChange != st.Breakdowns.Impressions.Platforms[p.Platform].Change {
			t.Errorf("%s impressions change %v, endpoint %v", p.Platform, p.ImpressionsChange, st.Breakdowns.Impressions.Platforms[p.Platform].Change)
		}
	}
	if r.Total.Impressions != st.Totals.Impressions || r.Total.Posts != st.Totals.Posts || r.Total.Likes != st.Totals.Likes {
		t.Errorf("total %+v, endpoint %+v", r.Total, st.Totals)
	}
	// The endpoint's own figures travel untouched in the JSON.
	var buf bytes.Buffer
	if err := report.Write(&buf, r, report.JSON); err != nil {
		t.Fatal(err)
	}
	var decoded struct {
		Statistics struct {
			TakenOn string `json:"takenOn"`
			Answers []struct {
				Breakdowns     ghl.Breakdowns     `json:"breakdowns"`
				PlatformTotals ghl.PlatformTotals `json:"platformTotals"`
			} `json:"answers"`
		} `json:"statistics"`
	}
	if err := json.Unmarshal(buf.Bytes(), &decoded); err != nil {
		t.Fatal(err)
	}
	if decoded.Statistics.TakenOn != taken || len(decoded.Statistics.Answers) != 1 {
		t.Fatalf("statistics section %+v", decoded.Statistics)
	}
	if diff := cmp.Diff(st.PlatformTotals, decoded.Statistics.Answers[0].PlatformTotals); diff != "" {
		t.Errorf("platform totals in JSON (-endpoint +report):\n%s", diff)
	}
	if diff := cmp.Diff(st.Breakdowns, decoded.Statistics.Answers[0].Breakdowns); diff != "" {
		t.Errorf("breakdowns in JSON (-endpoint +report):\n%s", diff)
	}
}

// A history of weekly snapshots covers four weeks; the report over them
// sums the four windows the endpoint returned, and days no snapshot
// covers are named.
func TestHistoryBeyondTheWindow(t *testing.T) {
	const last = "2026-04-29"
	sim := newSim(t, time.Now(), "facebook", "tiktok")
	var snaps []report.Snapshot
	var impressions, posts float64
	for w := range 4 {
		s := sim.snapshot(t, day(t, last, -7*w))
		snaps = append(snaps, s)
		impressions += s.Answers[0].Totals.Impressions
		posts += s.Answers[0].Totals.Posts
	}
	from, to := day(t, last, -28), day(t, last, -1)
	r, err := report.Build(report.Input{Location: sim.loc, From: day(t, from, -2), To: to, Snapshots: snaps})
	if err != nil {
		t.Fatal(err)
	}
	if r.Total.Impressions != impressions || r.Total.Posts != posts {
		t.Errorf("28-day totals: impressions %v posts %v; the four windows sum to %v and %v", r.Total.Impressions, r.Total.Posts, impressions, posts)
	}
	if diff := cmp.Diff([]string{day(t, from, -2), day(t, from, -1)}, r.MissingDays); diff != "" {
		t.Errorf("missing days (-want +got):\n%s", diff)
	}
	if len(r.Series) != 28 || r.Series[0].Day != from {
		t.Errorf("series: %d days from %s, want 28 from %s", len(r.Series), r.Series[0].Day, from)
	}
}

func TestTags(t *testing.T) {
	tags := []report.Tag{
		{ID: "t1", Name: "promo", Posts: []report.Post{
			{ID: "p1", Day: "2026-05-02", Contacts: []string{"c1", "c2"}},
			{ID: "p2", Day: "2026-05-03", Contacts: []string{"c2", "c3"}},
			{ID: "p3", Day: "2026-04-28"}, // previous period
		}},
		{ID: "t2", Name: "fading", Posts: []report.Post{
			{ID: "p4", Day: "2026-04-25"}, {ID: "p5", Day: "2026-04-26"}, {ID: "p6", Day: "2026-05-01", Contacts: []string{"c9"}},
		}},
		{ID: "t3", Name: "quiet"},
	}
	r, err := report.Build(report.Input{Location: "loc", From: "2026-05-01", To: "2026-05-07", Tags: tags})
	if err != nil {
		t.Fatal(err)
	}
	minus50 := -50.0
	want := []report.TagRow{
		{ID: "t1", Name: "promo", Posts: 2, Contacts: 3, PreviousPosts: 1, PostsChange: ptr(100)},
		{ID: "t2", Name: "fading", Posts: 1, Contacts: 1, PreviousPosts: 2, PostsChange: &minus50},
		{ID: "t3", Name: "quiet"},
	}
	if diff := cmp.Diff(want, r.Tags); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	if len(r.TopTags) != 2 || r.TopTags[0].Name != "promo" || len(r.FadingTags) != 1 || r.FadingTags[0].Name != "fading" {
		t.Errorf("top %v fading %v", r.TopTags, r.FadingTags)
	}
}

func ptr(v float64) *float64 { return &v }

// Every format renders; the HTML draws its charts inline and loads
// nothing; names are escaped.
func TestFormats(t *testing.T) {
	sim := newSim(t, time.Now(), "facebook", "instagram")
	snap := sim.snapshot(t, "2026-02-10")
	r, err := report.Build(report.Input{Location: sim.loc, From: "2026-02-03", To: "2026-02-09", Snapshots: []report.Snapshot{snap},
		Tags: []report.Tag{{ID: "t1", Name: `<script>x</script>|a`, Posts: []report.Post{{ID: "p", Day: "2026-02-04"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[report.Format]string{}
	for _, f := range report.Formats() {
		var b bytes.Buffer
		if err := report.Write(&b, r, f); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[f] = b.String()
	}
	h := out[report.HTML]
	if strings.Count(h, "<svg") != 2 || strings.Contains(h, "<script") || strings.Contains(h, "src=") || strings.Contains(h, "https://") {
		t.Errorf("html: want two inline charts, no script, nothing loaded:\n%s", h)
	}
	if !strings.Contains(out[report.Markdown], `\|a`) || !strings.Contains(out[report.Markdown], "| facebook |") {
		t.Errorf("markdown:\n%s", out[report.Markdown])
	}
	rows, err := csv.NewReader(strings.NewReader(out[report.CSV])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, row := range rows {
		if row[0] == "totals" && row[2] == "facebook" && row[4] == "impressions" {
			found = row[5] == strconv.FormatFloat(snap.Answers[0].PlatformTotals.Impressions["facebook"].Total, 'f', -1, 64)
		}
	}
	if !found {
		t.Errorf("csv lacks facebook's impressions total:\n%s", out[report.CSV])
	}
	if _, err := report.ParseFormat("pdf"); err == nil {
		t.Error("pdf accepted")
	}
}

func TestBadRange(t *testing.T) {
	for _, r := range [][2]string{{"2026-05-02", "2026-05-01"}, {"yesterday", "2026-05-01"}, {"2000-01-01", "2026-05-01"}} {
		if _, err := report.Build(report.Input{From: r[0], To: r[1]}); err == nil {
			t.Errorf("range %v accepted", r)
		}
	}
}

// A range is measured from its dates alone and refused past MaxDays by
// every reader: Days, a report, an export archive.
func TestDayCount(t *testing.T) {
	for _, c := range []struct {
		from, to string
		want     int
		says     string
	}{
		{"2026-05-01", "2026-05-01", 1, ""},
		{"2026-02-27", "2026-03-01", 3, ""},
		{"2024-02-27", "2024-03-01", 4, ""}, // leap year
		{"2016-01-01", "2026-01-07", report.MaxDays, ""},
		{"2016-01-01", "2026-01-08", 0, "3661 days, at most 3660"},
		{"0001-01-01", "9999-12-31", 0, "3652059 days, at most 3660"},
		{"2026-05-02", "2026-05-01", 0, "the first day is after the last"},
		{"yesterday", "2026-05-01", 0, `day "yesterday": want YYYY-MM-DD`},
		{"2026-05-01", "2026-02-30", 0, `day "2026-02-30"`},
	} {
		t.Run(c.from+"…"+c.to, func(t *testing.T) {
			n, err := report.DayCount(c.from, c.to)
			if c.says != "" {
				if err == nil || !strings.Contains(err.Error(), c.says) {
					t.Fatalf("DayCount = %d, %v; want an error saying %q", n, err, c.says)
				}
				if _, err := report.Days(c.from, c.to); err == nil {
					t.Error("Days accepted it")
				}
				if _, err := report.NewArchive("L", c.from, c.to, nil, nil, time.Time{}); err == nil {
					t.Error("NewArchive accepted it")
				}
				return
			}
			days, err := report.Days(c.from, c.to)
			if err != nil || n != c.want || len(days) != n || days[0] != c.from || days[n-1] != c.to {
				t.Fatalf("DayCount = %d, %v; Days = %d days; want %d from %s to %s", n, err, len(days), c.want, c.from, c.to)
			}
		})
	}
}

// CSV cells a spreadsheet would run as a formula are defused with a
// leading apostrophe; figures, negative ones included, stay numbers.
func TestCSVDefusesFormulas(t *testing.T) {
	r := report.Report{
		Platforms: []report.PlatformTotals{{Platform: "@facebook", Posts: -3, PostsChange: ptr(-12.5)}},
		Tags: []report.TagRow{
			{Name: `=HYPERLINK("http://evil.example","x")`, Posts: 2},
			{Name: "+1", Posts: 1}, {Name: "-2+3"}, {Name: "\tcmd"}, {Name: "\rcmd"}, {Name: "plain = fine"},
		},
	}
	var b bytes.Buffer
	if err := report.Write(&b, r, report.CSV); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	tags, platforms := map[string]bool{}, map[string]bool{}
	values := map[string]string{}
	for _, row := range rows[1:] {
		if row[3] != "" {
			tags[row[3]] = true
		}
		if row[2] != "" {
			platforms[row[2]] = true
			values[row[0]+"/"+row[4]] = row[5]
		}
	}
	want := map[string]bool{`'=HYPERLINK("http://evil.example","x")`: true, "'+1": true, "'-2+3": true, "'\tcmd": true, "'\rcmd": true, "plain = fine": true}
	if diff := cmp.Diff(want, tags); diff != "" {
		t.Errorf("tag cells (-want +got):\n%s", diff)
	}
	if !platforms["'@facebook"] || platforms["@facebook"] {
		t.Errorf("platform cells: %v", platforms)
	}
	if values["totals/posts"] != "-3" || values["change/posts_change_pct"] != "-12.5" {
		t.Errorf("negative figures: %v; want -3 and -12.5 as numbers", values)
	}

	// The export's platform cells too.
	a := report.Archive{Days: []report.DayFigures{{Day: "2026-05-01", Weekday: "Friday", Source: "2026-05-02",
		Platforms: map[string]report.Values{"=evil": {Posts: -1}}}}}
	b.Reset()
	if err := a.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	if rows, _ := csv.NewReader(&b).ReadAll(); len(rows) != 2 || rows[1][2] != "'=evil" || rows[1][3] != "-1" {
		t.Errorf("export rows: %q", rows)
	}
}

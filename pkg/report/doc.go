// Package report turns a location's statistics history and tag activity
// into reports (JSON, CSV, Markdown, HTML with inline SVG charts) and
// recommendations (posting cadence, audience targeting), so the stats
// worker, the CLI and the gateway build the same report from the same data.
// It is plain Go over plain types, free of NATS; it owns the statistics
// history's record (Record, HistoryKey) and the reports' object names (Name,
// LatestName). Package source reads its inputs from the buckets.
//
// HighLevel's statistics endpoint answers, on any day D, with the seven
// days before D (D-7 … D-1) and their comparison with the seven before
// those. A snapshot taken on D thus knows the daily series of D-7 … D-1:
// per platform posts, impressions, likes and followers, and over all
// platforms comments. Reach, shares and comments per platform come only
// as seven-day totals. The history (Daily) keeps, for every calendar day,
// the values of the latest snapshot that covers it.
package report

package bustest

import "testing"

func TestSubjectMatches(t *testing.T) {
	tests := []struct {
		filter, subject string
		want            bool
	}{
		{"socialsync.dlq.fetcher.L1", "socialsync.dlq.fetcher.L1", true},
		{"socialsync.dlq.*.L1", "socialsync.dlq.fetcher.L1", true},
		{"socialsync.dlq.>", "socialsync.dlq.fetcher.L1", true},
		{"socialsync.dlq.>", "socialsync.dlq", false},
		{"socialsync.dlq.*", "socialsync.dlq.fetcher.L1", false},
		{"socialsync.dlq.fetcher.L1", "socialsync.dlq.fetcher.L2", false},
		{"socialsync.dlq.fetcher.L1.x", "socialsync.dlq.fetcher.L1", false},
	}
	for _, tt := range tests {
		if got := subjectMatches(tt.filter, tt.subject); got != tt.want {
			t.Errorf("subjectMatches(%q, %q) = %v, want %v", tt.filter, tt.subject, got, tt.want)
		}
	}
}

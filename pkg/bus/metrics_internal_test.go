package bus

import (
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// TestReads checks which families a consumer's filter subjects read (some
// of): its subject labels name those and no other.
func TestReads(t *testing.T) {
	t.Parallel()
	tests := []struct {
		filters []string
		family  Family
		want    bool
	}{
		{[]string{"socialsync.trigger.post.*"}, "socialsync.trigger.post", true},
		{[]string{"socialsync.trigger.post.*"}, "socialsync.trigger.stats", false},
		{[]string{"socialsync.trigger.tagdetails.*", "socialsync.trigger.post.*"}, "socialsync.trigger.post", true},
		{[]string{"socialsync.trigger.>"}, "socialsync.trigger.post", true},
		{[]string{"socialsync.trigger.>"}, "socialsync.event.tag", false},
		{[]string{"socialsync.*.post.*"}, "socialsync.trigger.post", true},
		{[]string{"socialsync.trigger.post.loc1"}, "socialsync.trigger.post", true},
		{nil, "socialsync.trigger.post", false},
	}
	for _, tt := range tests {
		spec := ConsumerSpec{Config: jetstream.ConsumerConfig{FilterSubjects: tt.filters}}
		if len(tt.filters) == 1 {
			spec.Config = jetstream.ConsumerConfig{FilterSubject: tt.filters[0]}
		}
		if got := reads(spec)(tt.family); got != tt.want {
			t.Errorf("filters %q read %s: %v, want %v", tt.filters, tt.family, got, tt.want)
		}
	}
}

package settings_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/settings"
	"github.com/socialsync/socialsync/pkg/topology"
)

// MappedLocations lists the locations with a mapping, and no other
// setting, in a fixed number of requests whatever their number: the
// reconciliation check of contactsync runs it every minute instead of a
// read per registered location (issue 18).
func TestMappedLocations(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	ctx := context.Background()
	kv, err := env.JS.KeyValue(ctx, topology.BucketSettings)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := settings.MappedLocations(ctx, kv); err != nil || len(got) != 0 {
		t.Fatalf("MappedLocations of an empty bucket = %v, %v; want none", got, err)
	}
	var want []string
	for i := range 100 {
		loc := fmt.Sprintf("LocMapped%011d", i)
		if i%4 == 0 {
			if err := settings.PutMapping(ctx, kv, settings.Mapping{Location: loc}); err != nil {
				t.Fatal(err)
			}
			want = append(want, loc)
		}
		if err := settings.PutStats(ctx, kv, loc, settings.Stats{Cron: "@daily"}); err != nil {
			t.Fatal(err)
		}
	}
	before := env.Conn.Stats().OutMsgs
	got, err := settings.MappedLocations(ctx, kv)
	sent := env.Conn.Stats().OutMsgs - before
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("MappedLocations = %v, %v; want %v", got, err, want)
	}
	if sent > 20 {
		t.Errorf("MappedLocations sent %d messages for %d mappings: want a fixed few", sent, len(want))
	}
}

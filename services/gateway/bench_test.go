package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/services/gateway"
)

// BenchmarkWebhook measures signed post events accepted per second over
// loopback HTTP: verify, decode, check for a replay, store in JetStream,
// remember the id.
func BenchmarkWebhook(b *testing.B) {
	w := startB(b)
	loc := w.Locations[0].ID
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(8) // 16 senders on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := []byte(fmt.Sprintf(`{"locationId":%q,"postId":"p1","tagIds":["t1"],"contactIds":["c1"],"eventId":"bench-%d"}`, loc, time.Now().UnixNano()))
			req, _ := http.NewRequest(http.MethodPost, w.srv.URL+"/v1/webhooks/posts", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(gateway.HeaderSignature, gateway.Sign(testSecret, time.Now(), body))
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkLocationsHealthAtScale times the first page of GET
// /v1/locations/health with 10,000 registered locations (issue 18: within
// 1 s).
func BenchmarkLocationsHealthAtScale(b *testing.B) {
	const locations = 10_000
	env := fleettest.Start(b, "demo") // the gateway of the tests binds a source to the demo locations
	var eg errgroup.Group
	eg.SetLimit(32)
	for i := range locations {
		eg.Go(func() error {
			return env.Deps.Creds.AddPIT(context.Background(), creds.Location{ID: fmt.Sprintf("benchhealth%09d", i), Name: fmt.Sprint("loc ", i), Timezone: "UTC"}, "pit-"+strconv.Itoa(i))
		})
	}
	if err := eg.Wait(); err != nil {
		b.Fatal(err)
	}
	w := startEnv(b, env, nil)
	b.ResetTimer()
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodGet, w.srv.URL+"/v1/locations/health?limit=50", nil)
		req.Header.Set("Authorization", "Bearer "+testKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var page struct {
			Items  []json.RawMessage `json:"items"`
			Counts map[string]int    `json:"counts"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || len(page.Items) != 50 || page.Counts["ok"]+page.Counts["warning"]+page.Counts["trouble"] != locations+len(env.Locations) {
			b.Fatalf("status %d, %d items, counts %v, %v", resp.StatusCode, len(page.Items), page.Counts, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/page")
}

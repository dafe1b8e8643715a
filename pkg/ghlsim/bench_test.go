package ghlsim

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkSimulatorLoopback measures the simulator over real HTTP on
// 127.0.0.1: keep-alive clients in parallel list one location's tags with
// its PIT, the rate limit raised out of the way.
func BenchmarkSimulatorLoopback(b *testing.B) {
	sim, err := New(Options{Seed: "demo"})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()
	cfg, err := http.NewRequest("PUT", srv.URL+"/_sandbox/config",
		strings.NewReader(`{"rateLimit":{"max":10000000,"window":"1s","daily":1000000000}}`))
	if err != nil {
		b.Fatal(err)
	}
	res, err := srv.Client().Do(cfg)
	if err != nil || res.StatusCode != http.StatusOK {
		b.Fatalf("raise rate limit: %v %v", err, res)
	}
	res.Body.Close()

	loc := sim.Locations()[0]
	url := srv.URL + "/social-media-posting/" + loc.ID + "/tags?skip=0&limit=10"
	transport := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}

	b.ReportAllocs()
	b.SetParallelism(8) // requests in flight per core: keep both sides busy
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, err := http.NewRequest("GET", url, nil)
			if err != nil {
				b.Error(err)
				return
			}
			req.Header.Set("Authorization", "Bearer "+loc.Token)
			req.Header.Set("Version", "2021-07-28")
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

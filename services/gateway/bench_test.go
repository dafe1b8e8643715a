package gateway_test

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
	"time"

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

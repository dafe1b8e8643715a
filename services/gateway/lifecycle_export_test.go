package gateway

import "time"

// SetNow sets the gateway's clock.
func (g *Gateway) SetNow(now func() time.Time) { g.now = now }

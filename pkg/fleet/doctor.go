package fleet

import (
	"fmt"

	"github.com/socialsync/socialsync/pkg/doctor"
	"github.com/socialsync/socialsync/pkg/ghl"
)

// Doctor returns the test console's worker end over the process's store:
// its test calls go through the rate governor, so they count against the
// location's budget. Nil in a process without the token key (the
// gateway).
func (d *Deps) Doctor() *doctor.Server {
	if d.Creds == nil {
		return nil
	}
	return &doctor.Server{Log: d.Log, Doctor: &doctor.Doctor{Store: d.Creds, NewClient: func(opts ghl.Options) (*ghl.Client, error) {
		opts.BaseURL = d.Config.GHLBaseURL
		opts.Limiter = d.Governor
		opts.TracerProvider, opts.Propagator = d.Telemetry.TracerProvider(), d.Telemetry.Propagator()
		c, err := ghl.New(opts)
		if err != nil {
			return nil, fmt.Errorf("%w: SOCIALSYNC_GHL_BASE_URL: %v", ErrConfig, err)
		}
		return c, nil
	}}}
}

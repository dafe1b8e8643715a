// Package run is a process's lifecycle: a Group that runs its components
// together and shuts them down in order, and a Server that answers the
// kubelet's probes (/healthz, /readyz) and Prometheus (/metrics).
//
// A worker's run function wires them like this, with ctx from
// signal.NotifyContext in main:
//
//	srv := run.NewServer(cfg.HTTPAddr, tel.MetricsHandler(), log)
//	srv.AddCheck("nats", func(ctx context.Context) error { ... })
//	g := run.NewGroup(log, cfg.ShutdownTimeout)
//	g.OnShutdown(srv.SetDraining)
//	g.Add("http", srv.Run)
//	g.Add("fetcher", fetcher.Run)
//	return g.Run(ctx)
package run

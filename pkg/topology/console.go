package topology

// The dashboard's test console.
const (
	// SubjectConsoleDoctor is the core NATS request-reply subject (no
	// stream) on which the gateway asks the worker holding the token key
	// (the stats worker) to run the doctor's checks for one location and
	// waits for the report (doctor.Server): the gateway holds no token.
	SubjectConsoleDoctor = "socialsync.console.doctor"
	// QueueConsole is the queue group of its responders: one replica
	// answers each request.
	QueueConsole = "socialsync-console"
)

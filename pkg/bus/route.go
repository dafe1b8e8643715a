package bus

// Route is one durable a worker consumes: the stream and durable of the
// topology, the handler, and how many messages one replica handles at
// once. A worker lists its routes; the process builds a Consumer for each
// with its standard middleware and runs them all in one lifecycle group.
type Route struct {
	Stream      string
	Durable     string
	Handler     Handler
	Concurrency int
	// AnyState makes the handler run for a location whatever its state:
	// the process's location and hold checks do not apply. A removal
	// runs for a paused location, and its redelivery after the
	// location's record went still finishes.
	AnyState bool
}

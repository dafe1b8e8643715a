package contactsync

// FailBeforeCommit makes w call f between a contact's HighLevel writes
// and the storing of its state; an error from f fails the event there,
// as a crash or a NATS outage at that point would.
func FailBeforeCommit(w *Worker, f func(contact string) error) { w.beforeCommit = f }

// SetRemapChunk makes w re-apply a changed template n contacts at a time.
func SetRemapChunk(w *Worker, n int) { w.remapChunk = n }

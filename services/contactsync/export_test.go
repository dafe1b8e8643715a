package contactsync

import "time"

// FailBeforeCommit makes w call f between a contact's HighLevel writes
// and the storing of its state; an error from f fails the event there,
// as a crash or a NATS outage at that point would.
func FailBeforeCommit(w *Worker, f func(contact string) error) { w.beforeCommit = f }

// SetClock makes w read the time from now.
func SetClock(w *Worker, now func() time.Time) { w.now = now }

package relations

import "time"

// PurgeKey is the relations key of loc's purge (PurgeRun): the removal
// of every contact tag socialsync applied to its contacts, before the
// location is removed.
func PurgeKey(loc string) string { return "purge." + loc }

// Purge states (PurgeRun.State).
const (
	PurgeRunning = "running"
	PurgeDone    = "done"
)

// PurgeRun is the progress of a location's purge, stored as JSON under
// "purge.<loc>" (PurgeKey): its cursor. Contacts are purged in the order
// of their ids; Cursor is the last one done, so that a purge interrupted
// (the command stopped, the process killed) goes on after it.
type PurgeRun struct {
	State      string    `json:"state"`
	StartedAt  time.Time `json:"startedAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	// Contacts counts the contacts to purge when the run began; Done
	// those done (the tags removed, or the contact gone from HighLevel).
	Contacts int    `json:"contacts"`
	Done     int    `json:"done"`
	Cursor   string `json:"cursor,omitempty"`
	// Tags counts the contact tags removed; Gone the contacts HighLevel
	// no longer has.
	Tags int `json:"tags"`
	Gone int `json:"gone"`
	// Values counts the custom values deleted (WrittenValues).
	Values int `json:"values"`
}

package relations

import "time"

// Re-application states (RemapRun.State).
const (
	RemapRunning = "running"
	RemapDone    = "done"
)

// RemapRun is a location's latest re-application of its contact-tag
// template to the contacts socialsync tagged, stored as JSON under
// "remap.<loc>" (RemapKey): contactsync writes it as it goes (it is the
// run's cursor: a run picks up at Cursor after a restart), the CLI and the
// gateway read it to show progress.
type RemapRun struct {
	// Template is the contact-tag template the run brings contacts to;
	// a later change of the mapping starts the run again towards the new
	// one (Restarts counts those).
	Template    string    `json:"template"`
	State       string    `json:"state"`
	RequestedBy string    `json:"requestedBy,omitempty"`
	StartedAt   time.Time `json:"startedAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
	FinishedAt  time.Time `json:"finishedAt,omitzero"`
	Restarts    int       `json:"restarts,omitempty"`
	// Contacts are the contacts socialsync tagged when the run began,
	// sorted; Cursor is how many are done. Total is len(Contacts).
	Contacts []string `json:"contacts,omitempty"`
	Cursor   int      `json:"cursor"`
	Total    int      `json:"total"`
	// Changed counts the contacts whose tags were renamed; Failed those
	// HighLevel refused (dead-lettered).
	Changed int `json:"changed"`
	Failed  int `json:"failed"`
}

// Done reports how many contacts the run has done.
func (r RemapRun) Done() int { return min(r.Cursor, r.Total) }

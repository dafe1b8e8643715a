package relations

import (
	"time"

	"github.com/socialsync/socialsync/pkg/ids"
)

// Reconciliation states (ReconcileRun.State).
const (
	ReconcileRunning = "running"
	ReconcileDone    = "done"
)

// ReconcileStalled is how long a running reconciliation may go without
// storing progress before it counts as given up (its request dead-lettered,
// say): another may then start.
const ReconcileStalled = 15 * time.Minute

// Going reports whether r is running and stored progress within
// ReconcileStalled before now.
func (r ReconcileRun) Going(now time.Time) bool {
	return r.State == ReconcileRunning && now.Sub(r.UpdatedAt) < ReconcileStalled
}

// MaxDriftItems bounds the drift items a ReconcileRun lists; its counts
// go on past it.
const MaxDriftItems = 200

// ReconcileRun is a location's latest reconciliation, stored as JSON under
// "reconcile.<loc>" (ReconcileKey): contactsync writes it as it goes (it
// is the run's cursor: a run picks up at Cursor after a restart), the CLI
// and the gateway read it to show progress and the result.
type ReconcileRun struct {
	ID          string    `json:"id"`
	DryRun      bool      `json:"dryRun"`
	Policy      string    `json:"policy"`
	State       string    `json:"state"`
	RequestedBy string    `json:"requestedBy,omitempty"`
	StartedAt   time.Time `json:"startedAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
	FinishedAt  time.Time `json:"finishedAt,omitzero"`
	// Cost is what the run was estimated to cost before it began.
	Cost ReconcileCost `json:"cost"`
	// Tags are the contact tags compared, in order; Cursor is how many
	// are done.
	Tags   []string `json:"tags"`
	Cursor int      `json:"cursor"`
	// Calls counts the HighLevel calls made so far.
	Calls int `json:"calls"`
	// Scan is set once HighLevel refused a contact search by tag: the run
	// then reads the location's contacts page by page instead, and finds
	// each tag's holders among them.
	Scan bool `json:"scan,omitempty"`
	// Contacts counts the contacts socialsync knows; Recent those left
	// out because socialsync wrote them in the last minute (HighLevel's
	// search may not show the write yet).
	Contacts int `json:"contacts"`
	Recent   int `json:"recent"`
	// Drift found so far, and what was done about it.
	Missing  int         `json:"missing"`
	Stale    int         `json:"stale"`
	Foreign  int         `json:"foreign"`
	Items    []DriftItem `json:"items,omitempty"`
	Repaired int         `json:"repaired"`
	Recorded int         `json:"recorded"`
	// Error is why the run stopped before its end, if it did.
	Error string `json:"error,omitempty"`
}

// ReconcileCost is a reconciliation's estimate: the HighLevel calls its
// searches take (one per page of up to 500 contacts per compared tag), at
// most one write per contact to repair besides, and how long the searches
// take at the location's budget.
type ReconcileCost struct {
	Tags        int `json:"tags"`
	Contacts    int `json:"contacts"`
	SearchCalls int `json:"searchCalls"`
	MaxWrites   int `json:"maxWrites"`
	// AtBudgetSeconds is how long the searches take at the location's
	// rolling limit, in seconds.
	AtBudgetSeconds int64 `json:"atBudgetSeconds"`
	// DailyShare is the part of the location's daily limit they take.
	DailyShare float64 `json:"dailyShare"`
}

// DriftItem is one contact tag that differs: Kind is "missing" (socialsync
// applied it, HighLevel lacks it), "stale" (a contact socialsync knows
// carries a tag of socialsync's naming it did not give) or "foreign" (a
// contact socialsync does not know carries such a tag). Action says what
// the run did: "added", "removed", "recorded" (respected as a removal by
// hand), or "" (reported only).
type DriftItem struct {
	Kind    string `json:"kind"`
	Contact string `json:"contact"`
	Tag     string `json:"tag"`
	Action  string `json:"action,omitempty"`
}

// ValidRunID reports whether s can name a reconciliation run: 1 to 64
// letters, digits, '-' and '_', as a source name (ids.ValidSource).
func ValidRunID(s string) bool { return ids.ValidSource(s) }

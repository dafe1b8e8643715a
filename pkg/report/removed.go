package report

import "time"

// ObjectPrefix starts the object names of loc's reports (Name,
// LatestName).
func ObjectPrefix(loc string) string { return loc + "/" }

// RemovedKey is the statistics history key of the mark a removed
// location's kept data carries (Removed): the stats worker deletes the
// data once the mark is older than its grace period.
func RemovedKey(loc string) string { return "removed." + loc }

// RemovedPattern matches every RemovedKey.
const RemovedPattern = "removed.*"

// Removed is the mark of a removed location whose statistics history and
// reports are kept for a grace period.
type Removed struct {
	At time.Time `json:"at"`
}

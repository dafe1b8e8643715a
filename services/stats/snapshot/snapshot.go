package snapshot

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// EventID returns the message id of the event for chunk i of the snapshot
// that trigger took of loc's day: a redelivered trigger publishes the
// same ids, which the events stream drops as duplicates.
func EventID(loc, day, trigger string, i int) string {
	sum := sha256.Sum256([]byte(trigger))
	return "stats:" + loc + ":" + day + ":" + hex.EncodeToString(sum[:8]) + ":" + strconv.Itoa(i)
}

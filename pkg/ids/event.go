package ids

import (
	"encoding/base64"
	"strings"
)

// APISource is the source of the events and triggers the REST API
// publishes for an API key: their event ids share one namespace, apart
// from every webhook source's.
const APISource = "api"

// internalPrefixes begin the message and event ids socialsync's own
// publishers make (the fetcher's "refresh:", "tagchanged:" and
// "tagdetails:", the poller's "poll:", the enricher's "tagdetailsstored:",
// contactsync's "contacttags:", the automation worker's "segment:" and
// "segments:", the stats worker's "stats:", "recommendation:" and its
// trigger ids "event:", "msg:", "content:", the CLI's "backfill-" and
// "demo:", reconciliation's "reconcile:" and "sched-", the renaming
// requests' "remap:", the removals' "remove-" (the gateway's request) and
// "remove." (the stats worker's audit entry), the bus's
// "replay:" and "dlq:", creds' "creds."). An event id
// from outside that starts with one is refused (CheckEventID), so that it
// can never be taken for, or suppress, one of ours. A publisher that
// makes a new kind of id adds its prefix here;
// TestEveryInternalIDPrefixIsReserved scans the tree and fails until it
// does.
var internalPrefixes = []string{
	"refresh:", "tagchanged:", "tagdetails:", "tagdetailsstored:", "poll:", "contacttags:",
	"segment:", "segments:", "stats:", "recommendation:", "event:", "msg:", "content:",
	"backfill-", "demo:", "reconcile:", "sched-", "remap:", "remove-", "remove.", "replay:", "dlq:", "creds.",
}

// ruleEventID is what CheckEventID asks of an event id, after "want".
const ruleEventID = "1 to 256 bytes of UTF-8 without control characters, not starting with a prefix socialsync reserves for its own ids ("

// InternalPrefixes returns the reserved beginnings of event ids (see
// CheckEventID), in a new slice.
func InternalPrefixes() []string { return append([]string(nil), internalPrefixes...) }

// Reserved reports whether id starts with a prefix socialsync's own
// publishers use (compared without regard to case).
func Reserved(id string) bool {
	l := strings.ToLower(id)
	for _, p := range internalPrefixes {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}

// CheckEventID fails with an *Error naming field unless id can be the
// event id of an event from outside (a webhook, the REST API, the CLI):
// an external id (ValidExternal) that does not start with a reserved
// prefix (Reserved).
func CheckEventID(field, id string) error {
	if err := CheckExternal(field, id); err != nil {
		return err
	}
	if Reserved(id) {
		return newError(field, ruleEventID+strings.Join(internalPrefixes, " ")+")", id)
	}
	return nil
}

// EventKey returns the deduplication key of event id sent by source for
// location loc: "<source>/<loc>/<unpadded base64url of id>". It is the
// Nats-Msg-Id of the message the event becomes and the key that remembers
// it, so that one source's event id never suppresses another source's,
// nor the same source's for another location. Being a source name (no ':'
// nor '.') followed by '/', it can equal none of the ids socialsync's own
// publishers make. It fails with an *Error for an invalid source, location
// or event id (CheckEventID).
func EventKey(source, loc, id string) (string, error) {
	if err := CheckSource("source", source); err != nil {
		return "", err
	}
	if err := CheckHighLevel("location_id", loc); err != nil {
		return "", err
	}
	if err := CheckEventID("event_id", id); err != nil {
		return "", err
	}
	return source + keySep + loc + keySep + base64.RawURLEncoding.EncodeToString([]byte(id)), nil
}

package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/socialsync/socialsync/pkg/doctor"
)

// consoleTimeout bounds how long POST /v1/locations/{loc}/doctor waits
// for the worker: its three test calls, each bounded by the worker.
const consoleTimeout = 45 * time.Second

// runDoctor is POST /v1/locations/{loc}/doctor: the test console. The
// gateway holds no token, so the worker that holds the key (the stats
// worker, doctor.Server over topology.SubjectConsoleDoctor) makes the
// test calls, through the rate governor, and answers the report. The raw
// answers carry no request header; contacts' personal data in them is
// redacted unless the key is admin.
func (g *Gateway) runDoctor(w http.ResponseWriter, r *http.Request) {
	l, ok := g.triggerable(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), consoleTimeout)
	defer cancel()
	reply, err := doctor.Ask(ctx, g.deps.Conn, doctor.Request{Location: l.ID})
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		writeError(w, http.StatusServiceUnavailable, "no_worker", "no worker that holds the token key is running (the stats worker): nothing was checked")
		return
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		writeError(w, http.StatusGatewayTimeout, "timeout", "the worker did not answer within "+consoleTimeout.String())
		return
	case err != nil:
		g.log.Warn("console: ask the worker", "location", l.ID, "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "NATS did not answer: nothing was checked")
		return
	case reply.NotFound:
		writeError(w, http.StatusNotFound, "not_found", reply.Error)
		return
	case reply.Retry:
		unavailable(w, reply.Error)
		return
	case reply.Error != "" || reply.Report == nil:
		writeError(w, http.StatusBadGateway, "doctor_failed", reply.Error)
		return
	}
	rep := *reply.Report
	if !keyOfRequest(r).has(scopeAdmin) {
		for i := range rep.Calls {
			rep.Calls[i].Raw = redactPersonal(rep.Calls[i].Raw)
		}
	}
	writeJSON(w, http.StatusOK, rep)
}

// personalKeys are the fields of a contact that name a person.
var personalKeys = map[string]bool{
	"email": true, "emailLowerCase": true, "additionalEmails": true, "phone": true, "additionalPhones": true,
	"firstName": true, "lastName": true, "firstNameLowerCase": true, "lastNameLowerCase": true,
	"fullName": true, "fullNameLowerCase": true, "contactName": true, "dateOfBirth": true,
	"address1": true, "postalCode": true,
}

// redacted replaces a personal value.
const redacted = "[redacted]"

var emailLike = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`)

// redactPersonal returns raw (an answer's body) with contacts' personal
// data replaced: every field of personalKeys, and the "name" of an
// object holding one of them (a contact); a body that is not JSON has
// its email addresses replaced.
func redactPersonal(raw string) string {
	if raw == "" {
		return raw
	}
	var v any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return emailLike.ReplaceAllString(raw, redacted)
	}
	b, err := json.Marshal(redactValue(v))
	if err != nil {
		return redacted
	}
	return string(b)
}

func redactValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		contact := false
		for k := range t {
			if personalKeys[k] {
				contact = true
			}
		}
		for k, e := range t {
			if personalKeys[k] || (contact && k == "name") {
				t[k] = redacted
				continue
			}
			t[k] = redactValue(e)
		}
	case []any:
		for i, e := range t {
			t[i] = redactValue(e)
		}
	}
	return v
}

package settings

import (
	"fmt"
	"strings"
)

// Problem is a field of a setting that cannot be applied, and why: what a
// form shows next to the field.
type Problem struct {
	// Field is the field's path in the setting's JSON ("contactTag",
	// "contactFields[0].to", "cron").
	Field   string `json:"field"`
	Message string `json:"message"`
}

type problems []Problem

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

// err is the problems as one ErrInvalid naming each field; nil for none.
func (p problems) err(what string) error {
	if len(p) == 0 {
		return nil
	}
	msgs := make([]string, len(p))
	for i, pr := range p {
		msgs[i] = pr.Field + ": " + pr.Message
	}
	return fmt.Errorf("%w: %s: %s", ErrInvalid, what, strings.Join(msgs, "; "))
}

// Problems lists every field of s that cannot be applied: the cron spec
// (CheckSpec, and a time zone given to a spec that takes none), the time
// zone and the retention (Validate).
func (s Stats) Problems() []Problem {
	var out problems
	if s.Cron != "" {
		if err := CheckSpec(s.Cron); err != nil {
			out.add("cron", "%v", err)
		} else if s.Timezone != "" && !TakesTimeZone(s.Cron) {
			out.add("timezone", "%q runs in UTC and takes no time zone", s.Cron)
		}
	}
	return append(out, s.fieldProblems()...)
}

package bus

import (
	"strconv"
	"strings"

	"github.com/socialsync/socialsync/pkg/ids"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// Kinds of contact reference (ContactRef.Kind).
const (
	RefID         = "id"
	RefEmail      = "email"
	RefPhone      = "phone"
	RefExternalID = "externalId"
)

// withheld stands for a contact reference's value in an *ids.Error: an
// email or a phone number never reaches an error, a log or a dead letter.
const withheld = "(withheld)"

// ContactRef is a contact reference of a PostEvent, checked and
// normalized: Value is an email in lower case, a phone number as "+" and
// digits, an id as sent.
type ContactRef struct {
	Kind, Value string
}

// contactRefValue returns the kind and raw value of r; "" for a
// reference naming nothing.
func contactRefValue(r *socialsyncv1.ContactRef) (kind, value string) {
	switch x := r.GetRef().(type) {
	case *socialsyncv1.ContactRef_Id:
		return RefID, x.Id
	case *socialsyncv1.ContactRef_Email:
		return RefEmail, x.Email
	case *socialsyncv1.ContactRef_Phone:
		return RefPhone, x.Phone
	case *socialsyncv1.ContactRef_ExternalId:
		return RefExternalID, x.ExternalId
	}
	return "", ""
}

// checkContactRefBounds is the part of a reference's check that refuses
// the whole message: a value that is not 1 to ids.MaxExternalLen bytes of
// UTF-8 without control characters. Everything else about a reference
// (CheckContactRef) fails that reference only.
func checkContactRefBounds(field string, r *socialsyncv1.ContactRef) error {
	_, v := contactRefValue(r)
	if v != "" && !ids.ValidExternal(v) {
		return &ids.Error{Field: field, Rule: "1 to " + strconv.Itoa(ids.MaxExternalLen) + " bytes of UTF-8 without control characters", Value: withheld}
	}
	return nil
}

// CheckContactRef checks one contact reference of a PostEvent that
// CheckPostEvent accepted and returns it normalized. A reference naming
// nothing, an id that is not a HighLevel id, an email without exactly one
// "@" between non-empty parts or with spaces, a phone number that is not
// "+" and 8 to 15 digits once spaces, dashes, dots and parentheses are
// dropped: an *ids.Error naming field and the rule, never the value. A
// consumer fails that reference alone (an item dead letter); every
// consumer applies this one check.
func CheckContactRef(field string, r *socialsyncv1.ContactRef) (ContactRef, error) {
	kind, v := contactRefValue(r)
	bad := func(rule string) (ContactRef, error) {
		return ContactRef{}, &ids.Error{Field: field, Rule: rule, Value: withheld}
	}
	if err := checkContactRefBounds(field, r); err != nil {
		return ContactRef{}, err
	}
	switch kind {
	case "":
		return bad("one of id, email, phone or externalId")
	case RefID:
		if !ids.ValidHighLevel(v) {
			return bad("a HighLevel contact id (1 to " + strconv.Itoa(ids.MaxHighLevelLen) + " ASCII letters and digits)")
		}
	case RefEmail:
		v = strings.ToLower(strings.TrimSpace(v))
		local, domain, ok := strings.Cut(v, "@")
		if !ok || local == "" || domain == "" || strings.Contains(domain, "@") || strings.ContainsAny(v, " \t") ||
			!strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
			return bad("an email address (name@domain.tld)")
		}
	case RefPhone:
		v = strings.Map(func(c rune) rune {
			if strings.ContainsRune(" -.()", c) {
				return -1
			}
			return c
		}, v)
		digits := strings.TrimPrefix(v, "+")
		if digits == v || len(digits) < 8 || len(digits) > 15 || strings.ContainsFunc(digits, func(c rune) bool { return c < '0' || c > '9' }) {
			return bad("a phone number in E.164 (+ and 8 to 15 digits)")
		}
	case RefExternalID:
		if strings.TrimSpace(v) == "" {
			return bad("an id of the sending system, not blank")
		}
	}
	return ContactRef{Kind: kind, Value: v}, nil
}

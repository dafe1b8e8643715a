package creds

import "errors"

var (
	// ErrUnknownLocation is returned for a location that was never added.
	ErrUnknownLocation = errors.New("creds: unknown location")
	// ErrInvalidLocation is returned for a location id that is not letters
	// and digits.
	ErrInvalidLocation = errors.New("creds: invalid location id")
	// ErrNoToken is returned for a location whose token record is missing.
	ErrNoToken = errors.New("creds: no token stored for location")
	// ErrBadKey is returned for a token key that is not 32 bytes of base64.
	ErrBadKey = errors.New("creds: token key must be 32 bytes, base64-encoded")
	// ErrUnknownKey is returned for a record sealed under a key the keyring
	// does not hold.
	ErrUnknownKey = errors.New("creds: token record sealed under an unknown key")
	// ErrTampered is returned for a record that fails authentication: it was
	// changed, or moved from another location's key.
	ErrTampered = errors.New("creds: token record failed authentication")
)

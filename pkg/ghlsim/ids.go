package ghlsim

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
)

const (
	alnum      = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
)

// newTraceID returns a random UUID for a response's traceId. It uses the
// runtime's per-thread generator, so it takes no lock.
func newTraceID() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	return formatUUID(b)
}

// uuidFrom returns a version 4 UUID drawn from r.
func uuidFrom(r *rand.Rand) string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], r.Uint64())
	binary.LittleEndian.PutUint64(b[8:], r.Uint64())
	return formatUUID(b)
}

// formatUUID formats 16 random bytes as a version 4, variant 1 UUID.
func formatUUID(b [16]byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

// hexID returns n random lower-case hex digits, as in a Mongo ObjectId
// (n = 24), drawn from r.
func hexID(r *rand.Rand, n int) string {
	const digits = "0123456789abcdef"
	out := make([]byte, n)
	for i := range out {
		out[i] = digits[r.IntN(16)]
	}
	return string(out)
}

// alnumID returns n random letters and digits, as in a Firebase-style id
// (n = 20), drawn from r.
func alnumID(r *rand.Rand, n int) string {
	return fromAlphabet(r, alnum, n)
}

// fromAlphabet returns n characters of alphabet drawn from r.
func fromAlphabet(r *rand.Rand, alphabet string, n int) string {
	out := make([]byte, n)
	for i := range out {
		out[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(out)
}

// digitsID returns n random decimal digits, the first not zero.
func digitsID(r *rand.Rand, n int) string {
	out := make([]byte, n)
	for i := range out {
		out[i] = byte('0' + r.IntN(10))
	}
	if n > 0 && out[0] == '0' {
		out[0] = '1'
	}
	return string(out)
}

// isFirebaseID reports whether s looks like a HighLevel contact or location
// id: 20 letters and digits.
func isFirebaseID(s string) bool {
	return len(s) == 20 && isAlnum(s)
}

// isAlnum reports whether s is non-empty and made of ASCII letters and
// digits only.
func isAlnum(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// isObjectID reports whether s is 24 hex digits, what Mongo accepts as an
// ObjectId string.
func isObjectID(s string) bool {
	if len(s) != 24 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

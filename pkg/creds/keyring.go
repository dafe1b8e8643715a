package creds

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// Keyring seals token records with its primary key and opens records sealed
// with any of its keys, so keys can rotate: add the new key first, keep the
// old ones until every record was rewritten (Store.Reseal rewrites them).
type Keyring struct {
	primary string
	aeads   map[string]cipher.AEAD
}

// ParseKeyring reads a comma-separated list of base64 (standard or URL,
// padded or not) 32-byte keys; the first one seals new records.
func ParseKeyring(keys string) (*Keyring, error) {
	k := &Keyring{aeads: map[string]cipher.AEAD{}}
	for i, s := range strings.Split(keys, ",") {
		raw, err := decodeKey(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		id := KeyID(raw)
		if i == 0 {
			k.primary = id
		}
		k.aeads[id] = aead
	}
	return k, nil
}

// NewKey returns a fresh random key, base64-encoded, for ParseKeyring.
func NewKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.StdEncoding.EncodeToString(b)
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != 32 {
				return nil, ErrBadKey
			}
			return b, nil
		}
	}
	return nil, ErrBadKey
}

// KeyID names a key without revealing it: the first 8 bytes of its SHA-256,
// in hex.
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:8])
}

// sealed is a token record at rest.
type sealed struct {
	KeyID      string `json:"kid"`
	Nonce      []byte `json:"nonce"`
	Ciphertext []byte `json:"ct"`
}

// seal encrypts plaintext for location loc; loc is authenticated too, so a
// record copied under another location's key does not open.
func (k *Keyring) seal(loc string, plaintext []byte) sealed {
	aead := k.aeads[k.primary]
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return sealed{KeyID: k.primary, Nonce: nonce, Ciphertext: aead.Seal(nil, nonce, plaintext, []byte(loc))}
}

func (k *Keyring) open(loc string, s sealed) ([]byte, error) {
	aead, ok := k.aeads[s.KeyID]
	if !ok {
		return nil, fmt.Errorf("%w (key id %s)", ErrUnknownKey, s.KeyID)
	}
	if len(s.Nonce) != aead.NonceSize() {
		return nil, ErrTampered
	}
	p, err := aead.Open(nil, s.Nonce, s.Ciphertext, []byte(loc))
	if err != nil {
		return nil, ErrTampered
	}
	return p, nil
}

// current returns the id (KeyID) of the key that seals new records.
func (k *Keyring) current() string { return k.primary }

// holds reports whether the keyring holds the key with id id.
func (k *Keyring) holds(id string) bool {
	_, ok := k.aeads[id]
	return ok
}

package bus

import "hash/maphash"

// Waited reports whether a handler waits for key's stripe.
func (s *Stripes) Waited(key string) bool {
	st := &s.stripes[maphash.String(s.seed, key)%uint64(len(s.stripes))]
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.freed != nil
}

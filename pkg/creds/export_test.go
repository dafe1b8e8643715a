package creds

// BeforeResealWrite makes s call f between reading a record to re-seal
// and writing it back, where a concurrent writer may slip in.
func BeforeResealWrite(s *Store, f func(loc string)) { s.beforeReseal = f }

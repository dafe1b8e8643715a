// Package contacttags writes contact tags to HighLevel: per-contact
// changes (Diff) grouped into bulk and single-contact calls (Batch), sent
// in order with the outcome of each contact (Send). contactsync writes a
// post's contact tags through it, the automation worker segment tags and
// workflow tags. Plain Go over pkg/ghl: no NATS.
package contacttags

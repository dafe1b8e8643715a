// Package sources owns the bindings of webhook sources
// (topology.BucketSources): for each source that signs webhook requests,
// the locations, and the companies (agencies) whose locations, present
// and future, it may speak for. A source's secrets stay in the gateway's
// configuration (SOCIALSYNC_WEBHOOK_SECRETS): a binding holds none, not
// even a hash, since an HMAC signature can only be checked with the
// secret itself.
//
// The record of a source is keyed by its name; Store is the only code
// that reads or writes the bucket. The gateway reads a source's binding
// on every webhook request; the CLI (`socialsync sources`) and the REST
// API's admin routes change them.
package sources

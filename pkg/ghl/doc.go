// Package ghl is a HighLevel (LeadConnector) API v2 client for the calls
// socialsync makes: Social Planner tags, accounts, statistics and posts,
// contact tags, contact search, location tags, custom values and OAuth.
//
// Every call sends the Version header HighLevel requires, takes its bearer
// token from an oauth2.TokenSource, reports the X-RateLimit-* headers of the
// response to the caller, returns a typed *Error classified as retryable,
// rate-limited, auth or permanent, retries transient failures within the
// caller's context, and records an OpenTelemetry client span. Tokens never
// appear in errors, logs or spans.
package ghl

// Package settings holds each location's settings in the
// "socialsync_settings" bucket, where the workers read them live:
//
//	stats.<loc>     Stats: the statistics schedule (cron, time zone) and
//	                the history's retention
//	mappings.<loc>  Mapping: the contact-tag naming template, tag-detail
//	                fields → contact custom fields, statistics → custom
//	                values
//
// Values are JSON. Every value is validated before it is stored (Put*),
// so a worker never reads one it cannot apply; one that is unreadable
// anyway (written by hand) is reported and the defaults apply.
package settings

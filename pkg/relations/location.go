package relations

// LocationKeys are the patterns of every key a location has in the tags,
// details and relations buckets: what removing it deletes. The purge
// cursor (PurgeKey) is left out: the removal deletes it last.
type LocationKeys struct {
	Tags, Details, Relations []string
}

// KeysOf returns the patterns of loc's keys.
func KeysOf(loc string) LocationKeys {
	return LocationKeys{
		Tags:    []string{CatalogueKey(loc)},
		Details: []string{DetailsPattern(loc)},
		Relations: []string{
			"post." + loc + ".>", TagPostsPrefix(loc) + ">", "postcontacts." + loc + ".>", ContactPrefix(loc) + ">",
			"removals." + loc + ".>", "intent." + loc + ".>", PollCursorKey(loc), "mirrored." + loc + ".>", ReconcileKey(loc),
			WrittenValuesKey(loc), RemapKey(loc),
		},
	}
}

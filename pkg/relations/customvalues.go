package relations

// WrittenValuesKey is the relations key of the custom values socialsync
// wrote for loc (WrittenValues): the stats worker's recommendations.
func WrittenValuesKey(loc string) string { return "customvalues." + loc }

// WrittenValues names the custom values socialsync wrote for a location,
// in lower case: the stats worker records a name before it first writes
// the value, and `socialsync locations remove --purge` deletes exactly
// these from HighLevel (never custom values chosen by a prefix).
type WrittenValues struct {
	Names []string `json:"names"`
}

package report

// ObjectPrefix starts the object names of loc's reports (Name,
// LatestName).
func ObjectPrefix(loc string) string { return loc + "/" }

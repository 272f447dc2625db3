package format

// RestoreResults are a restore's warnings, errors and updates of existing
// objects by namespace: the key is the namespace the item was restored into,
// "" for cluster-scoped items and for the restore as a whole. It is what is
// uploaded, as gzipped JSON, as restore-<name>-results.gz (RestoreResultsFile).
type RestoreResults struct {
	Warnings map[string][]string `json:"warnings"`
	Errors   map[string][]string `json:"errors"`
	// Updated lists the existing objects the restore changed: brought to
	// their backed-up state (existingResourcePolicy update) or, for objects
	// the cluster makes in every namespace, merged with what the user set.
	Updated map[string][]string `json:"updated,omitempty"`
}

// UpdatedCount is the number of existing objects updated.
func (r RestoreResults) UpdatedCount() int { return count(r.Updated) }

// WarningCount is the number of warnings.
func (r RestoreResults) WarningCount() int { return count(r.Warnings) }

// ErrorCount is the number of errors.
func (r RestoreResults) ErrorCount() int { return count(r.Errors) }

func count(m map[string][]string) int {
	n := 0
	for _, l := range m {
		n += len(l)
	}
	return n
}

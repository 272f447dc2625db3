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
	// DryRun, only in a dry-run restore's results, lists what a restore
	// would do with every item; Errors are then what would fail and Updated
	// what would be updated.
	DryRun *DryRunResults `json:"dryRun,omitempty"`
}

// DryRunResults lists, by target namespace ("" for cluster-scoped items),
// what a dry-run restore found a restore would do with each item ("<ref>" or
// "<ref>: <why>"). What would be updated is in RestoreResults.Updated, what
// would fail in RestoreResults.Errors.
type DryRunResults struct {
	// WouldCreate are the items the API server accepted in a dry-run
	// create (and those it could not be asked about, marked so).
	WouldCreate map[string][]string `json:"wouldCreate,omitempty"`
	// Unchanged are the existing objects equal to their backed-up state.
	Unchanged map[string][]string `json:"unchanged,omitempty"`
	// Existing are the existing objects that differ from the backup (or may)
	// and would be left untouched (existingResourcePolicy none).
	Existing map[string][]string `json:"existing,omitempty"`
	// Skipped are the items left out on purpose, with the reason.
	Skipped map[string][]string `json:"skipped,omitempty"`
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

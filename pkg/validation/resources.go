package validation

import (
	"fmt"
	"sort"
	"strings"
)

// Resources resolves the resource names users write in include/exclude
// filters: plural ("deployments"), group-qualified ("deployments.apps"),
// short ("deploy") or singular names. The server's discovery answers for a
// backup; for a restore, the resources in the backup count too (a custom
// resource whose CRD is only in the backup).
type Resources interface {
	// ResolveResource returns an error if no resource answers to name.
	ResolveResource(name string) error
	// ResourceNames lists the names resources answer to, for suggestions.
	ResourceNames() []string
}

// maxSuggestions bounds the close matches listed for an unknown name.
const maxSuggestions = 3

// ResourceFilters checks that every name in includes and excludes (other than
// "*") names a resource: an unknown name would silently match nothing, so an
// include with a typo backs up or restores nothing and an exclude with a typo
// keeps out nothing. Each unknown name is one error that lists the closest
// known names, e.g. `excluded resource "secrts" is not served by the cluster
// (did you mean secrets?)`. A nil res checks nothing.
func ResourceFilters(res Resources, includes, excludes []string) []string {
	if res == nil {
		return nil
	}
	var errs []string
	var names []string
	check := func(what string, list []string) {
		for _, n := range list {
			n = strings.TrimSpace(n)
			if n == "" || n == "*" || res.ResolveResource(n) == nil {
				continue
			}
			if names == nil {
				names = res.ResourceNames()
			}
			msg := fmt.Sprintf("%s resource %q is not served by the cluster", what, n)
			if close := CloseMatches(strings.ToLower(n), names, maxSuggestions); len(close) > 0 {
				msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(close, ", "))
			}
			errs = append(errs, msg)
		}
	}
	check("included", includes)
	check("excluded", excludes)
	return errs
}

// CloseMatches returns up to max candidates within a small edit distance of
// name (at most 1 for names of up to 4 characters, else 2, else a third of the
// name's length), closest first, then alphabetically.
func CloseMatches(name string, candidates []string, max int) []string {
	limit := 2
	switch {
	case len(name) <= 4:
		limit = 1
	case len(name)/3 > 2:
		limit = len(name) / 3
	}
	type match struct {
		name string
		d    int
	}
	var matches []match
	seen := map[string]bool{}
	for _, c := range candidates {
		if seen[c] {
			continue
		}
		seen[c] = true
		if d := EditDistance(name, strings.ToLower(c)); d <= limit {
			matches = append(matches, match{c, d})
		}
	}
	sort.Slice(matches, func(i, j int) bool {
		if matches[i].d != matches[j].d {
			return matches[i].d < matches[j].d
		}
		return matches[i].name < matches[j].name
	})
	var out []string
	for i := 0; i < len(matches) && i < max; i++ {
		out = append(out, matches[i].name)
	}
	return out
}

// EditDistance is the Levenshtein distance of a and b (bytes): the measure of
// "did you mean" suggestions, for resource names and the CLI's flags alike.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

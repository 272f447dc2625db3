package restore

import (
	"fmt"
	"sort"
	"sync"

	"github.com/heptio/ark/pkg/format"
)

// ItemRef names one item: its resource (group-resource, "deployments.apps"),
// the namespace it was restored into ("" if cluster-scoped) and its name.
type ItemRef struct {
	Resource  string `json:"resource"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

func (r ItemRef) String() string {
	if r.Namespace == "" {
		return r.Resource + " " + r.Name
	}
	return r.Resource + " " + r.Namespace + "/" + r.Name
}

// Result is the outcome of a restore.
type Result struct {
	Results format.RestoreResults `json:"results"`
	// FormatVersion is the backup's metadata/version ("1", "1.1.0").
	FormatVersion string `json:"formatVersion,omitempty"`
	// TotalItems is the number of items in the backup, one copy each.
	TotalItems int `json:"totalItems"`
	// Restored items were created.
	Restored int `json:"restored"`
	// Existing items already existed and were left untouched although they
	// differ from the backup, or may (each is also a warning).
	Existing int `json:"existing"`
	// Updated items already existed and were changed to their backed-up
	// state, or merged with it (each is listed in Results.Updated).
	Updated int `json:"updated"`
	// Unchanged items already existed, equal to their backed-up state.
	Unchanged int `json:"unchanged"`
	// Skipped items were left out on purpose: filters, resources never
	// restored, objects a controller recreates.
	Skipped int `json:"skipped"`
	// Failed items could not be restored (each is also an error).
	Failed int `json:"failed"`
	// Unvalidated items, in a dry run, are counted in Restored but the API
	// server's admission could not be asked about them (their namespace or
	// CRD would be created by the restore).
	Unvalidated int `json:"unvalidated,omitempty"`
	// Items are the items created, sorted (only with Options.ListItems).
	Items []ItemRef `json:"items,omitempty"`
}

// collector gathers a Result from concurrent workers.
type collector struct {
	mu  sync.Mutex
	res Result
}

func newCollector() *collector {
	return &collector{res: Result{Results: format.RestoreResults{Warnings: map[string][]string{}, Errors: map[string][]string{}, Updated: map[string][]string{}}}}
}

func (c *collector) warn(ns, format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.res.Results.Warnings[ns] = append(c.res.Results.Warnings[ns], fmt.Sprintf(format, args...))
}

func (c *collector) error(ns, format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.res.Results.Errors[ns] = append(c.res.Results.Errors[ns], fmt.Sprintf(format, args...))
}

func (c *collector) updated(ns, format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.res.Updated++
	c.res.Results.Updated[ns] = append(c.res.Results.Updated[ns], fmt.Sprintf(format, args...))
}

func (c *collector) add(f func(r *Result)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(&c.res)
}

// result returns the Result with its lists sorted.
func (c *collector) result() *Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.res
	maps := []map[string][]string{r.Results.Warnings, r.Results.Errors, r.Results.Updated}
	if d := r.Results.DryRun; d != nil {
		maps = append(maps, d.WouldCreate, d.Unchanged, d.Existing, d.Skipped)
	}
	for _, m := range maps {
		for _, l := range m {
			sort.Strings(l)
		}
	}
	sort.Slice(r.Items, func(i, j int) bool {
		a, b := r.Items[i], r.Items[j]
		if a.Resource != b.Resource {
			return a.Resource < b.Resource
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return &r
}

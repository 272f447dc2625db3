package oplog

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Levels in order, as the log writes them (slog's names); older logs wrote
// info, warning and error, which Level reads too.
var levels = []string{"DEBUG", "INFO", "WARN", "ERROR"}

// Level returns the rank of a level name (debug < info < warn < error; "warning"
// is warn), case-insensitive, and false for an unknown name.
func Level(name string) (int, bool) {
	n := strings.ToUpper(name)
	if n == "WARNING" {
		n = "WARN"
	}
	for i, l := range levels {
		if l == n {
			return i, true
		}
	}
	return 0, false
}

// Filter selects the records Print writes.
type Filter struct {
	// MinLevel is the least important level shown (Level's names); "" shows all.
	MinLevel string
	// Grep, when set, keeps the records whose human-readable line matches it.
	Grep *regexp.Regexp
	// JSON writes the records' lines as they are (JSON) instead of human-readable.
	JSON bool
}

// keyOrder is where the well-known keys go in a human-readable line; the operation's
// own name (backup, restore) is left out: it is the same on every line.
var keyOrder = []string{KeyResource, KeyNamespace, KeyName, KeyReason, KeyError}

// Print copies a log (JSON lines, as written by Log) from r to w, the records that
// pass f. Human-readable, each record is one line: time, level, message, then the
// other keys as key=value (values quoted when they have spaces or quotes). A line that
// is not a JSON object (a log of another format) is kept as it is, and shown unless a
// level is asked for.
func Print(w io.Writer, r io.Reader, f Filter) error {
	min := -1
	if f.MinLevel != "" {
		var ok bool
		if min, ok = Level(f.MinLevel); !ok {
			return fmt.Errorf("unknown level %q: use debug, info, warning or error", f.MinLevel)
		}
	}
	br := bufio.NewReader(r)
	bw := bufio.NewWriter(w)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			raw := strings.TrimRight(string(line), "\r\n")
			human, level, ok := humanLine(raw)
			keep := (min < 0 || ok && level >= min) && (f.Grep == nil || f.Grep.MatchString(human))
			if keep {
				out := human
				if f.JSON {
					out = raw
				}
				if _, werr := fmt.Fprintln(bw, out); werr != nil {
					return werr
				}
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	return bw.Flush()
}

// humanLine formats one record; ok is false when the line is not a JSON object.
func humanLine(raw string) (line string, level int, ok bool) {
	var rec map[string]any
	if json.Unmarshal([]byte(raw), &rec) != nil || rec == nil {
		return raw, 0, false
	}
	str := func(k string) string {
		v, _ := rec[k].(string)
		delete(rec, k)
		return v
	}
	ts, lvl, msg := str("time"), str("level"), str("msg")
	delete(rec, Backup)
	delete(rec, Restore)
	level, _ = Level(lvl)
	if lvl == "" {
		lvl = "-"
	} else if l, known := Level(lvl); known {
		lvl = levels[l]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %-5s %s", ts, lvl, msg)
	for _, k := range keyOrder {
		if v, ok := rec[k]; ok {
			writeKV(&b, k, v)
			delete(rec, k)
		}
	}
	rest := make([]string, 0, len(rec))
	for k := range rec {
		rest = append(rest, k)
	}
	sort.Strings(rest)
	for _, k := range rest {
		writeKV(&b, k, rec[k])
	}
	return b.String(), level, true
}

func writeKV(b *strings.Builder, k string, v any) {
	var s string
	switch v := v.(type) {
	case string:
		if v == "" {
			return
		}
		s = v
	case nil:
		return
	default:
		data, _ := json.Marshal(v)
		s = string(data)
	}
	if strings.ContainsAny(s, " \t\"=") {
		s = strconv.Quote(s)
	}
	fmt.Fprintf(b, " %s=%s", k, s)
}

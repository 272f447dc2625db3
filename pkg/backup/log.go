package backup

import (
	"encoding/json"
	"io"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Log levels of the backup log.
const (
	LevelInfo    = "info"
	LevelWarning = "warning"
	LevelError   = "error"
)

// LogEntry is one line of the backup log: the log is a stream of JSON
// objects, one per line, with these fields (empty ones left out).
type LogEntry struct {
	Time      string `json:"time"`
	Level     string `json:"level"`
	Msg       string `json:"msg"`
	Backup    string `json:"backup,omitempty"`
	Resource  string `json:"resource,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Error     string `json:"error,omitempty"`
}

// jsonLog writes LogEntries to a writer; it remembers the first write error
// and then stops writing.
type jsonLog struct {
	mu     sync.Mutex
	w      io.Writer
	clock  clock.PassiveClock
	backup string
	err    error
}

func (l *jsonLog) write(e LogEntry) {
	if l == nil || l.w == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return
	}
	e.Time = l.clock.Now().UTC().Format(time.RFC3339Nano)
	e.Backup = l.backup
	b, err := json.Marshal(e)
	if err != nil {
		l.err = err
		return
	}
	b = append(b, '\n')
	if _, err := l.w.Write(b); err != nil {
		l.err = err
	}
}

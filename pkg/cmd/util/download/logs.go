package download

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"time"

	"github.com/spf13/cobra"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/cmd/util/output"
	arkclient "github.com/heptio/ark/pkg/generated/clientset/versioned"
	"github.com/heptio/ark/pkg/oplog"
)

// LogOptions are the flags of `ark backup logs` and `ark restore logs`.
type LogOptions struct {
	Output  string
	Level   string
	Grep    string
	Timeout time.Duration
	// TLS is for the object store's download URL.
	TLS TLSOptions
}

// BindFlags adds -o, --level, --grep, --timeout, --insecure-skip-tls-verify and --cacert.
func (o *LogOptions) BindFlags(c *cobra.Command) {
	o.Timeout = time.Minute
	c.Flags().StringVarP(&o.Output, "output", "o", "text", "text: one readable line per record (time, level, message, key=value fields); json: the log's JSON lines as they are.")
	c.Flags().StringVar(&o.Level, "level", "", "Show only records of this level or a more important one: debug, info, warning or error.")
	c.Flags().StringVar(&o.Grep, "grep", "", "Show only records whose readable line matches this regular expression (Go syntax), such as 'namespace=app'.")
	c.Flags().DurationVar(&o.Timeout, "timeout", o.Timeout, "How long to wait for the server to answer.")
	o.TLS.BindFlags(c.Flags())
}

// Args is the cobra Args of `ark backup logs` and `ark restore logs`: one name,
// and flags that Filter takes, so that a wrong command line is a usage error
// (exit 2) before anything is asked of the cluster.
func (o *LogOptions) Args(c *cobra.Command, args []string) error {
	if err := cobra.ExactArgs(1)(c, args); err != nil {
		return err
	}
	_, err := o.Filter()
	return err
}

// Filter checks the flags and returns the filter they make.
func (o *LogOptions) Filter() (oplog.Filter, error) {
	f := oplog.Filter{MinLevel: o.Level, JSON: o.Output == "json"}
	if o.Output != "" {
		if err := output.CheckFormat(o.Output, "text", "json"); err != nil {
			return f, err
		}
	}
	if o.Level != "" {
		if _, ok := oplog.Level(o.Level); !ok {
			return f, fmt.Errorf("invalid --level %q: use debug, info, warning or error", o.Level)
		}
	}
	if o.Grep != "" {
		re, err := regexp.Compile(o.Grep)
		if err != nil {
			return f, fmt.Errorf("invalid --grep: %w", err)
		}
		f.Grep = re
	}
	return f, nil
}

// Log streams the log of kind (BackupLog, RestoreLog) of name to w, filtered and
// formatted as the options say.
func (o *LogOptions) Log(ctx context.Context, client arkclient.Interface, namespace string, kind arkv1.DownloadTargetKind, name string, w io.Writer) error {
	f, err := o.Filter()
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := oplog.Print(w, pr, f)
		pr.CloseWithError(err) // a failed print stops the download
		done <- err
	}()
	err = Stream(ctx, client, namespace, kind, name, pw, true, o.Timeout, WithTLS(&o.TLS))
	pw.CloseWithError(err)
	if perr := <-done; err == nil {
		err = perr
	}
	return err
}

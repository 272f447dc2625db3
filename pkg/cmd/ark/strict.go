package ark

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/heptio/ark/pkg/validation"
)

// Exit codes of the ark command, documented in `ark --help` and the README.
const (
	// ExitOK: the command did what it was asked.
	ExitOK = 0
	// ExitFailed: the command ran and failed (the API server or the ark server
	// refused, a timeout, something not found, a backup that is not whole).
	ExitFailed = 1
	// ExitUsage: the command line is wrong (an unknown command or flag, the
	// wrong number of arguments, a missing required flag, a bad flag value);
	// nothing was done.
	ExitUsage = 2
)

// exitCodesHelp is the part of `ark --help` that lists the exit codes.
const exitCodesHelp = `
Exit status: 0 when the command did what it was asked; 1 when it ran and failed (the API
server or the ark server refused, a timeout, a backup not found or not whole); 2 when the
command line is wrong (an unknown command or flag, wrong arguments, a missing required flag,
a value a flag does not take, such as -o xml): nothing was done then.
Errors go to standard error.`

// UsageError is a command line that cannot be run: ExitUsage.
type UsageError struct {
	Err error
}

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// ExitCode is the exit status for the error Execute returned.
func ExitCode(err error) int {
	var usage *UsageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &usage):
		return ExitUsage
	default:
		return ExitFailed
	}
}

// strict makes every command of the tree refuse what it does not know, instead
// of cobra's defaults of printing help and exiting 0 for an unknown subcommand
// of a group ("ark backup creat x"): an unknown subcommand or flag (with the
// closest commands or flags), a bad flag value, a missing required flag and
// wrong arguments are UsageErrors. A command checks its flags in its cobra Args,
// not in RunE, so that what it refuses there is a UsageError too.
func strict(root *cobra.Command) {
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError(c, fmt.Errorf("%w%s", err, flagSuggestions(c, err)))
	})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.SuggestionsMinimumDistance <= 0 {
			c.SuggestionsMinimumDistance = 2 // cobra's default, which SuggestionsFor does not apply
		}
		switch {
		case c.HasSubCommands() && c.Run == nil && c.RunE == nil:
			// A group: with no arguments it prints its help; any argument is a
			// subcommand that does not exist (cobra found none).
			c.Args = cobra.ArbitraryArgs
			c.RunE = func(c *cobra.Command, args []string) error {
				if len(args) == 0 {
					return c.Help()
				}
				return usageError(c, fmt.Errorf("unknown command %q for %q%s", args[0], c.CommandPath(), commandSuggestions(c, args[0])))
			}
		case c.Runnable():
			// cobra checks required flags (MarkFlagRequired) and flag groups
			// only after Args, with errors of its own: checked here first,
			// they are usage errors as the command's own checks in Args are.
			validate := c.Args
			if validate == nil {
				validate = cobra.ArbitraryArgs // cobra's default for a command without Args
			}
			c.Args = func(c *cobra.Command, args []string) error {
				for _, check := range []func() error{c.ValidateRequiredFlags, c.ValidateFlagGroups, func() error { return validate(c, args) }} {
					if err := check(); err != nil {
						return usageError(c, err)
					}
				}
				return nil
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

func usageError(c *cobra.Command, err error) error {
	return &UsageError{Err: fmt.Errorf("%w\nRun '%s --help' for usage.", err, c.CommandPath())}
}

func commandSuggestions(c *cobra.Command, typed string) string {
	s := c.SuggestionsFor(typed)
	if len(s) == 0 {
		return ""
	}
	return "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t") + "\n"
}

// flagSuggestions names the command's flags closest to the unknown one in err
// (pflag's "unknown flag: --name"), or "".
func flagSuggestions(c *cobra.Command, err error) string {
	const prefix = "unknown flag: --"
	msg := err.Error()
	if !strings.HasPrefix(msg, prefix) {
		return ""
	}
	typed := strings.TrimPrefix(msg, prefix)
	var found []string
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		if validation.EditDistance(typed, f.Name) <= 2 || (len(typed) > 2 && strings.HasPrefix(f.Name, typed)) {
			found = append(found, "--"+f.Name)
		}
	})
	if len(found) == 0 {
		return ""
	}
	sort.Strings(found)
	return "\n\nDid you mean this?\n\t" + strings.Join(found, "\n\t") + "\n"
}

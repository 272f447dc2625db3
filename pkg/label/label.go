// Package label makes names into valid label values, the one way every writer
// and reader of ark's labels (ark.heptio.com/restore-name,
// ark.heptio.com/schedule-name) does it.
package label

import (
	"crypto/sha256"
	"encoding/hex"

	"k8s.io/apimachinery/pkg/util/validation"
)

// hashLength is how many hex digits of the name's SHA-256 end a shortened value.
const hashLength = 6

// ValidValue returns name if it is a valid label value (at most 63
// characters), and otherwise its first 57 characters followed by the first 6
// hex digits of its SHA-256: distinct long names stay distinct, and the same
// name always gives the same value (as Velero's label.GetValidName does).
// Names are object names (DNS subdomains), so the prefix starts with a letter
// or digit and the value ends with one.
func ValidValue(name string) string {
	if len(name) <= validation.LabelValueMaxLength {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return name[:validation.LabelValueMaxLength-hashLength] + hex.EncodeToString(sum[:])[:hashLength]
}

// Selector is the label selector "key=ValidValue(name)".
func Selector(key, name string) string { return key + "=" + ValidValue(name) }

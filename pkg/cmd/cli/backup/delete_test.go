package backup

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

func TestDeleteOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		o       DeleteOptions
		wantErr string
	}{
		{name: "names", o: DeleteOptions{Names: []string{"a", "b-2"}}},
		{name: "all", o: DeleteOptions{All: true}},
		{name: "selector", o: DeleteOptions{Selector: "app=nginx"}},
		{name: "nothing", o: DeleteOptions{}, wantErr: "in one way"},
		{name: "names and all", o: DeleteOptions{Names: []string{"a"}, All: true}, wantErr: "in one way"},
		{name: "all and selector", o: DeleteOptions{All: true, Selector: "a=b"}, wantErr: "in one way"},
		{name: "bad name", o: DeleteOptions{Names: []string{"../etc"}}, wantErr: "invalid name"},
	} {
		err := tc.o.Validate()
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}

func TestRequestPrefix(t *testing.T) {
	long := strings.Repeat("a", 250) + ".b"
	for _, name := range []string{"b", "nightly-20261121070000", long} {
		p := requestPrefix(name)
		if errs := validation.IsDNS1123Subdomain(p + "x1y2z"); len(errs) > 0 {
			t.Errorf("%q: generated names %q invalid: %v", name, p+"x1y2z", errs)
		}
	}
}

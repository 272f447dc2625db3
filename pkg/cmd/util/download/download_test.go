package download

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/generated/clientset/versioned/fake"
)

// A download that fails prints neither the signed URL's query nor what the
// store echoes of it.
func TestStreamErrorsHoldNoSignature(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "signature mismatch for "+r.URL.String(), http.StatusForbidden)
	}))
	defer echo.Close()
	for _, base := range []string{closed, echo.URL} {
		client := fake.NewSimpleClientset()
		client.PrependReactor("create", "downloadrequests", func(a k8stesting.Action) (bool, runtime.Object, error) {
			req := a.(k8stesting.CreateAction).GetObject().(*arkv1.DownloadRequest)
			req.Status.Phase = arkv1.DownloadRequestPhaseProcessed
			req.Status.DownloadURL = base + "/ark/b.tar.gz?se=1&sig=s3cretSig"
			return false, nil, nil
		})
		var out bytes.Buffer
		err := Stream(context.Background(), client, "ark", arkv1.DownloadTargetKindBackupLog, "b", &out, false, time.Second)
		if err == nil {
			t.Fatalf("%s: no error", base)
		}
		if !strings.Contains(err.Error(), "downloading") || !strings.Contains(err.Error(), "/ark/b.tar.gz") {
			t.Errorf("%s: unexpected error %v", base, err)
		}
		if strings.Contains(err.Error(), "s3cretSig") {
			t.Errorf("%s: the error holds the signature: %v", base, err)
		}
	}
}

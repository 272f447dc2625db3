// Command localkms serves nsmithuk/local-kms, an AWS KMS emulator that speaks
// KMS's JSON protocol (X-Amz-Target: TrentService.*) with real AES-GCM keys, on
// the loopback address given, for ark's KMS tests. local-kms's own main listens
// on every interface; this one binds only -listen, and seeds no keys: the tests
// create theirs with CreateKey through the real SDK.
//
//	localkms -listen 127.0.0.1:PORT -data DIR [-region us-east-1] [-account 111122223333]
package main

import (
	"flag"
	"log"
	"net"
	"net/http"

	lkms "github.com/nsmithuk/local-kms/src"
	"github.com/nsmithuk/local-kms/src/config"
	"github.com/nsmithuk/local-kms/src/data"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "loopback address to listen on")
	dir := flag.String("data", "", "directory of the key database (required)")
	region := flag.String("region", "us-east-1", "region in the keys' ARNs")
	account := flag.String("account", "111122223333", "account id in the keys' ARNs")
	flag.Parse()
	if *dir == "" {
		log.Fatal("localkms: -data is required")
	}
	config.AWSRegion, config.AWSAccountId, config.DatabasePath = *region, *account, *dir
	db := data.NewDatabase(*dir)
	defer db.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("localkms: %v", err)
	}
	log.Printf("localkms: serving on %s", ln.Addr())
	log.Fatal(http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lkms.HandleRequest(w, r, db)
	})))
}

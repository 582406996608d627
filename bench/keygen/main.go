// Command keygen writes many OpenPGP public keys for bench/keystore.sh
// and bench/process.sh: v4 Ed25519/Cv25519 keys (-algo pq: with an RFC
// 9980 ML-KEM-768+X25519 subkey too) with one user ID each
// (user-NNNNNNN@bench.example), binary and concatenated as `gpg --export`
// writes them, in files of at most -per keys.
//
//	go run ./bench/keygen -n 1000000 -out /tmp/keys
//	go run ./bench/keygen -n 100 -per 1 -algo pq -out /tmp/pqkeys
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
)

func main() {
	n := flag.Int("n", 1000000, "number of keys")
	per := flag.Int("per", 100000, "keys per file")
	out := flag.String("out", "keys", "output directory")
	algoName := flag.String("algo", "ed25519", "key algorithm, as list create --key-algo takes it: ed25519, rsa3072, rsa4096 or pq")
	flag.Parse()
	algo, err := pgp.ParseAlgorithm(*algoName)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	for start := 0; start < *n; start += *per {
		name := filepath.Join(*out, fmt.Sprintf("keys-%07d.pgp", start))
		if err := writeFile(name, start, min(start+*per, *n), algo); err != nil {
			log.Fatal(err)
		}
		fmt.Fprintf(os.Stderr, "keygen: %s\n", name)
	}
}

// writeFile generates keys [from, to) on every core and writes them in
// order to name.
func writeFile(name string, from, to int, algo pgp.Algorithm) error {
	keys := make([][]byte, to-from)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := from + w; i < to; i += workers {
				k, err := pgp.GenerateKey("", fmt.Sprintf("user-%07d@bench.example", i), algo, pgp.Options{})
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
				keys[i-from] = k.PublicBytes()
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, k := range keys {
		w.Write(k)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

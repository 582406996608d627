package app

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
)

// loadTrustAnchors reads the certificates of a PEM file, or of every file
// in a directory; an empty path means none.
func loadTrustAnchors(path string) ([]*x509.Certificate, error) {
	if path == "" {
		return nil, nil
	}
	var pool []*x509.Certificate
	n := 0
	err := eachFile(path, func(name string, data []byte) error {
		for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
			if block.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return fmt.Errorf("smime.trust_anchors: %s: %w", name, err)
			}
			pool = append(pool, c)
			n++
		}
		return nil
	})
	if err == nil && n == 0 {
		err = fmt.Errorf("smime.trust_anchors: no certificate found in %s", path)
	}
	return pool, err
}

// loadCRLs reads the revocation lists (PEM or DER) of a file or directory.
func loadCRLs(path string) ([]*x509.RevocationList, error) {
	if path == "" {
		return nil, nil
	}
	var out []*x509.RevocationList
	err := eachFile(path, func(name string, data []byte) error {
		ders := [][]byte{data}
		if block, _ := pem.Decode(data); block != nil {
			ders = nil
			for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
				if block.Type == "X509 CRL" {
					ders = append(ders, block.Bytes)
				}
			}
		}
		for _, der := range ders {
			crl, err := x509.ParseRevocationList(der)
			if err != nil {
				return fmt.Errorf("smime.crls: %s: %w", name, err)
			}
			out = append(out, crl)
		}
		return nil
	})
	return out, err
}

// eachFile calls fn for path, or for every regular file in it when it is
// a directory.
func eachFile(path string, fn func(name string, data []byte) error) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	names := []string{path}
	if fi.IsDir() {
		entries, err := os.ReadDir(path)
		if err != nil {
			return err
		}
		names = names[:0]
		for _, e := range entries {
			if e.Type().IsRegular() {
				names = append(names, filepath.Join(path, e.Name()))
			}
		}
	}
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		if err := fn(name, data); err != nil {
			return err
		}
	}
	return nil
}

package app

import (
	"context"
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

// loadCRLs reads the revocation lists (PEM or DER) of a file or
// directory, and the certificates (PEM) beside them: those of the CRLs'
// issuers, which verify the CRLs of an authority that is not a trust
// anchor (for its members' pinned certificates) and are trusted for
// nothing else.
func loadCRLs(path string) ([]*x509.RevocationList, []*x509.Certificate, error) {
	if path == "" {
		return nil, nil, nil
	}
	var out []*x509.RevocationList
	var issuers []*x509.Certificate
	err := eachFile(path, func(name string, data []byte) error {
		ders := [][]byte{data}
		if block, _ := pem.Decode(data); block != nil {
			ders = nil
			for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
				switch block.Type {
				case "X509 CRL":
					ders = append(ders, block.Bytes)
				case "CERTIFICATE":
					c, err := x509.ParseCertificate(block.Bytes)
					if err != nil {
						return fmt.Errorf("smime.crls: %s: %w", name, err)
					}
					issuers = append(issuers, c)
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
	return out, issuers, err
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

// warnUnverifiedCRLs warns about each loaded CRL whose issuer Sealpost
// cannot find (no trust anchor, no certificate beside the CRLs): it
// cannot be told from a forgery, so it revokes nothing until its issuer's
// certificate is put beside it or made a trust anchor.
func (a *App) warnUnverifiedCRLs(ctx context.Context) error {
	crls, err := a.Admin.UnverifiedCRLs(ctx)
	if err != nil {
		return err
	}
	for _, crl := range crls {
		a.Logger.Warn("smime.crls: a CRL cannot be verified, so it revokes nothing (except in messages that carry its issuer's certificate): "+
			"put the issuer's certificate (PEM) beside the CRL or make it a trust anchor", "issuer", crl.Issuer.String())
	}
	return nil
}

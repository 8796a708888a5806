package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/postgres"
	"github.com/hookd/hookd/sqlite"
)

const rekeyUsage = `Usage: hookd rekey --db DB [--encryption-key OLD] --new-encryption-key NEW

Re-encrypts every stored endpoint secret with NEW, in one transaction, and
records NEW's fingerprint: from then on hookd starts only with
--encryption-key NEW. Leave --encryption-key out when the secrets are stored
unencrypted. Stop every hookd process on the database first: one still
running with the old key could write a secret the new key cannot open.

Flags:
`

// runRekey is hookd rekey.
func runRekey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hookd rekey", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, rekeyUsage); fs.PrintDefaults() }
	db := fs.String("db", env("HOOKD_DB", "hookd.db"), "SQLite path or sqlite://PATH, or a postgres:// URL (HOOKD_DB)")
	oldKey := fs.String("encryption-key", env("HOOKD_ENCRYPTION_KEY", ""), "the key the secrets are stored with, base64; none when they are stored unencrypted (HOOKD_ENCRYPTION_KEY)")
	newKey := fs.String("new-encryption-key", env("HOOKD_NEW_ENCRYPTION_KEY", ""), "the key to store them with: 32 bytes, base64 (HOOKD_NEW_ENCRYPTION_KEY)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	key := func(name, v string) ([]byte, error) {
		if v == "" {
			return nil, nil
		}
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("%s must be 32 bytes in base64 (e.g. from: openssl rand -base64 32)", name)
		}
		return b, nil
	}
	old, err := key("--encryption-key", *oldKey)
	if err != nil {
		return err
	}
	next, err := key("--new-encryption-key", *newKey)
	if err != nil {
		return err
	}
	if next == nil {
		fs.Usage()
		return errors.New("--new-encryption-key is required")
	}
	var store hookd.Store
	if isPostgres(*db) {
		store, err = postgres.Open(ctx, postgres.Config{URL: *db})
	} else {
		store, err = sqlite.Open(ctx, sqlite.Config{Path: *db})
	}
	if err != nil {
		return err
	}
	defer store.Close()
	n, err := hookd.Rekey(ctx, store, old, next)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "re-encrypted %d secrets with the key whose fingerprint is %s: start hookd with it as --encryption-key\n", n, hookd.KeyFingerprint(next))
	return nil
}

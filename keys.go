package hookd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// KeyStore is what checking and changing the encryption key of stored
// endpoint secrets needs of a store.
type KeyStore interface {
	// Setting returns a stored setting, or ErrNotFound.
	Setting(ctx context.Context, name string) ([]byte, error)
	SetSetting(ctx context.Context, name string, value []byte) error
	// InitSetting stores value unless the setting is there (not empty)
	// already, and returns what is stored: of two processes that set it at
	// once, one wins and both learn which.
	InitSetting(ctx context.Context, name string, value []byte) ([]byte, error)
	// EncryptedSecret returns one stored secret in its encrypted form
	// ("aes:…"), or ErrNotFound when none is encrypted.
	EncryptedSecret(ctx context.Context) (string, error)
	// Reseal rewrites every stored secret of every webhook with p.Reseal,
	// and stores p.Fingerprint, in one transaction: all or nothing.
	Reseal(ctx context.Context, p ResealParams) (int, error)
}

// ResealParams is Reseal's work: how to rewrite one stored secret, and
// the fingerprint of the key it is sealed with afterwards ("" for none).
type ResealParams struct {
	Reseal      func(stored string) (string, error)
	Fingerprint string
}

// SettingKeyFingerprint names the stored fingerprint of the key the
// endpoint secrets are encrypted with.
const SettingKeyFingerprint = "encryption_key_fingerprint"

// KeyFingerprint names a key without revealing it: 8 bytes of SHA-256 over
// a label and the key, in hex. "" for no key.
func KeyFingerprint(key []byte) string {
	if len(key) == 0 {
		return ""
	}
	h := sha256.Sum256(append([]byte("hookd encryption key fingerprint\x00"), key...))
	return hex.EncodeToString(h[:8])
}

// ErrWrongKey is wrapped by CheckEncryptionKey's refusals.
var ErrWrongKey = errors.New("wrong encryption key")

// CheckEncryptionKey refuses to run with a key (or without one) that does
// not open the endpoint secrets already stored: such a process would
// answer 500 to every read of them, and store new secrets unencrypted next
// to encrypted ones. The first time a key is used, its fingerprint is
// stored, after it has been seen to open a stored secret if there is one.
func CheckEncryptionKey(ctx context.Context, s KeyStore, key []byte) error {
	want := KeyFingerprint(key)
	stored, err := s.Setting(ctx, SettingKeyFingerprint)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	switch {
	case len(stored) == 0: // none recorded yet: below
	case string(stored) == want:
		return nil
	case want == "":
		return fmt.Errorf("%w: the endpoint secrets are stored encrypted with the key whose fingerprint is %s; start hookd with that --encryption-key (HOOKD_ENCRYPTION_KEY)", ErrWrongKey, stored)
	default:
		return fmt.Errorf("%w: the endpoint secrets are stored encrypted with the key whose fingerprint is %s, and this --encryption-key's is %s; start hookd with the stored key, or move the secrets to this one with hookd rekey", ErrWrongKey, stored, want)
	}
	// No fingerprint yet (a database from before fingerprints, or a new
	// one): the key must open what is stored.
	sample, err := s.EncryptedSecret(ctx)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return err
	case key == nil:
		return fmt.Errorf("%w: the endpoint secrets are stored encrypted; start hookd with the --encryption-key (HOOKD_ENCRYPTION_KEY) they were stored with", ErrWrongKey)
	default:
		box, err := NewSecretBox(key)
		if err != nil {
			return err
		}
		if _, err := box.Open(sample); err != nil {
			return fmt.Errorf("%w: this --encryption-key (fingerprint %s) does not open the stored endpoint secrets; start hookd with the key they were stored with", ErrWrongKey, want)
		}
	}
	if want == "" {
		return nil
	}
	got, err := s.InitSetting(ctx, SettingKeyFingerprint, []byte(want))
	if err != nil {
		return err
	}
	if string(got) != want {
		return fmt.Errorf("%w: another process recorded the key whose fingerprint is %s for this database just now, and this --encryption-key's is %s; start every process with the same key", ErrWrongKey, got, want)
	}
	return nil
}

// Rekey moves every stored endpoint secret from the key oldKey (nil: they
// are stored unencrypted) to newKey, in one transaction, and returns how
// many secrets it rewrote. oldKey must pass CheckEncryptionKey.
func Rekey(ctx context.Context, s KeyStore, oldKey, newKey []byte) (int, error) {
	if err := CheckEncryptionKey(ctx, s, oldKey); err != nil {
		// Said as rekey's caller needs it: "move the secrets with hookd
		// rekey" is the command being run.
		stored, _ := s.Setting(ctx, SettingKeyFingerprint)
		switch {
		case !errors.Is(err, ErrWrongKey):
			return 0, err
		case string(stored) == KeyFingerprint(newKey):
			return 0, fmt.Errorf("%w: the endpoint secrets are stored with the new key already (fingerprint %s): nothing to do; start hookd with it", ErrWrongKey, stored)
		case len(stored) == 0:
			return 0, fmt.Errorf("%w: --encryption-key (the old key) does not open the stored endpoint secrets, and no key is recorded for them: give the key they were stored with", ErrWrongKey)
		default:
			return 0, fmt.Errorf("%w: the endpoint secrets are stored with the key whose fingerprint is %s, and --encryption-key (the old key) is not it (its fingerprint is %q; \"\" for none): give the key they are stored with", ErrWrongKey, stored, KeyFingerprint(oldKey))
		}
	}
	var oldBox, newBox *SecretBox
	var err error
	if oldKey != nil {
		if oldBox, err = NewSecretBox(oldKey); err != nil {
			return 0, err
		}
	}
	if newBox, err = NewSecretBox(newKey); err != nil {
		return 0, err
	}
	return s.Reseal(ctx, ResealParams{
		Reseal: func(stored string) (string, error) {
			secret, err := oldBox.Open(stored)
			if err != nil {
				return "", err
			}
			return newBox.Seal(secret), nil
		},
		Fingerprint: KeyFingerprint(newKey),
	})
}

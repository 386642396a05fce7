// Package backupcrypt encrypts the charm's backups with a passphrase:
// OpenPGP, symmetric, so that `gpg --decrypt` opens them. OpenPGP's
// packages cost milliseconds of start-up (their init builds curve tables),
// so only the backup actions' binary (cmd/charm-backup) links this
// package; dispatch, which runs every hook, does not.
package backupcrypt

import (
	"crypto"
	"errors"
	"fmt"
	"io"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/ProtonMail/go-crypto/openpgp/s2k"
)

// ErrWrongPassphrase is what Decrypt returns when the passphrase does not
// open the message.
var ErrWrongPassphrase = errors.New("wrong passphrase")

// OpenPGP is the charm's backup cipher (charm.BackupCipher).
type OpenPGP struct{}

// Encrypt returns a writer whose plaintext is OpenPGP-encrypted to w with
// the passphrase: AES-256, iterated and salted SHA-256 S2K, integrity
// protected (MDC), which any gpg 2 decrypts.
func (OpenPGP) Encrypt(w io.Writer, passphrase []byte, name string) (io.WriteCloser, error) {
	config := &packet.Config{
		DefaultCipher:          packet.CipherAES256,
		DefaultCompressionAlgo: packet.CompressionNone,
		S2KConfig:              &s2k.Config{S2KMode: s2k.IteratedSaltedS2K, Hash: crypto.SHA256, S2KCount: 65011712},
	}
	return openpgp.SymmetricallyEncrypt(w, passphrase, &openpgp.FileHints{IsBinary: true, FileName: name}, config)
}

// Decrypt opens an OpenPGP message with the passphrase. A wrong passphrase
// fails here (ErrWrongPassphrase), before any plaintext is read; the
// integrity check (MDC) fails the last Read of the returned reader.
func (OpenPGP) Decrypt(r io.Reader, passphrase []byte) (io.Reader, error) {
	asked := false
	md, err := openpgp.ReadMessage(r, openpgp.EntityList{}, func([]openpgp.Key, bool) ([]byte, error) {
		if asked {
			// Ends the library's prompt loop after one attempt.
			return nil, ErrWrongPassphrase
		}
		asked = true
		return passphrase, nil
	}, nil)
	switch {
	case err != nil && asked:
		return nil, ErrWrongPassphrase
	case err != nil:
		return nil, fmt.Errorf("not an OpenPGP-encrypted backup: %w", err)
	}
	return md.UnverifiedBody, nil
}

// WrongPassphrase reports whether err is Decrypt's wrong-passphrase error.
func (OpenPGP) WrongPassphrase(err error) bool { return errors.Is(err, ErrWrongPassphrase) }

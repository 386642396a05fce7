package fernet

import (
	"bytes"
	"testing"
)

// FuzzDecrypt: tokens are outside input. Decrypt never panics; anything
// Encrypt made with the key decrypts back to the message.
func FuzzDecrypt(f *testing.F) {
	key, err := GenerateKey()
	if err != nil {
		f.Fatal(err)
	}
	tok, err := Encrypt(key, []byte("hello"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok, []byte("hello"))
	f.Add("gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==", []byte(""))
	f.Add("", []byte{0})
	f.Fuzz(func(t *testing.T, token string, msg []byte) {
		_, _ = Decrypt(key, token)
		_, _ = Decrypt(token, token)
		tok, err := Encrypt(key, msg)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decrypt(key, tok)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("round trip of %q: %q, %v", msg, got, err)
		}
	})
}

package fernet

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"
	"time"
)

// The "generate" vector of github.com/fernet/spec (generate.json).
const (
	specKey   = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4="
	specToken = "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA=="
)

func specIV() *bytes.Reader {
	return bytes.NewReader([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
}

func TestSpecVector(t *testing.T) {
	got, err := encrypt(specKey, []byte("hello"), time.Unix(499162800, 0), specIV())
	if err != nil {
		t.Fatal(err)
	}
	if got != specToken {
		t.Fatalf("encrypt = %s, want %s", got, specToken)
	}
	msg, err := Decrypt(specKey, specToken)
	if err != nil || string(msg) != "hello" {
		t.Fatalf("Decrypt(spec token) = %q, %v; want hello", msg, err)
	}
}

func TestRoundTripWithGeneratedKey(t *testing.T) {
	key, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.URLEncoding.DecodeString(key)
	if err != nil || len(raw) != 32 {
		t.Fatalf("key %q: %d bytes, %v; want padded urlsafe base64 of 32 bytes", key, len(raw), err)
	}
	other, _ := GenerateKey()
	if other == key {
		t.Fatal("two generated keys are equal")
	}
	for _, msg := range []string{"", "a", "exactly16bytes!!", "id: echo\nurl: http://127.0.0.1:1\n"} {
		tok, err := Encrypt(key, []byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decrypt(key, tok)
		if err != nil || string(got) != msg {
			t.Fatalf("round trip %q = %q, %v", msg, got, err)
		}
		if _, err := Decrypt(other, tok); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("Decrypt with another key: %v, want ErrInvalidToken", err)
		}
	}
}

func TestTamperedTokensAreRejected(t *testing.T) {
	raw, _ := base64.URLEncoding.DecodeString(specToken)
	flip := func(i int) string {
		b := append([]byte{}, raw...)
		b[i] ^= 1
		return base64.URLEncoding.EncodeToString(b)
	}
	cases := map[string]string{
		"version":    flip(0),
		"timestamp":  flip(3),
		"iv":         flip(10),
		"ciphertext": flip(30),
		"hmac":       flip(len(raw) - 1),
		"truncated":  base64.URLEncoding.EncodeToString(raw[:len(raw)-1]),
		"short":      base64.URLEncoding.EncodeToString(raw[:40]),
		"not base64": "!!" + specToken[2:],
		"unpadded":   base64.RawURLEncoding.EncodeToString(raw),
		"empty":      "",
	}
	for name, tok := range cases {
		if got, err := Decrypt(specKey, tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: Decrypt = %q, %v; want ErrInvalidToken", name, got, err)
		}
	}
}

func TestBadKeys(t *testing.T) {
	for _, key := range []string{"", "short", base64.URLEncoding.EncodeToString(make([]byte, 31)), "cw/0x689RpI+jtRR7oE8h/eQsKImvJapLeSbXpwF4e4="} {
		if _, err := Encrypt(key, []byte("x")); err == nil {
			t.Errorf("Encrypt with key %q: no error", key)
		}
		if _, err := Decrypt(key, specToken); err == nil {
			t.Errorf("Decrypt with key %q: no error", key)
		}
	}
}

// Package fernet implements the Fernet token format (github.com/fernet/spec)
// with the standard library only. The matrix-auth lib v1 encrypts the
// requirer's registration with a Fernet key published by the provider.
package fernet

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

const (
	version   = 0x80
	keyLen    = 32
	headerLen = 1 + 8 + aes.BlockSize // version, timestamp, IV
	macLen    = sha256.Size
)

// ErrInvalidToken is returned for any token that is malformed, was not made
// with the given key, or was tampered with; the cause is not revealed.
var ErrInvalidToken = errors.New("invalid fernet token")

// GenerateKey returns a new key: urlsafe base64 (padded) of 32 random bytes,
// as Python's Fernet.generate_key().
func GenerateKey() (string, error) {
	k := make([]byte, keyLen)
	if _, err := rand.Read(k); err != nil {
		return "", fmt.Errorf("fernet: generate key: %w", err)
	}
	return base64.URLEncoding.EncodeToString(k), nil
}

func parseKey(key string) (signing, encryption []byte, err error) {
	k, err := base64.URLEncoding.DecodeString(key)
	if err != nil || len(k) != keyLen {
		return nil, nil, errors.New("fernet: key must be urlsafe base64 of 32 bytes")
	}
	return k[:16], k[16:], nil
}

// Encrypt returns the Fernet token of msg under key.
func Encrypt(key string, msg []byte) (string, error) {
	return encrypt(key, msg, time.Now(), rand.Reader)
}

// encrypt takes the time and IV source so the spec vector is reproducible.
func encrypt(key string, msg []byte, now time.Time, ivSrc io.Reader) (string, error) {
	signing, encryption, err := parseKey(key)
	if err != nil {
		return "", err
	}
	iv := make([]byte, aes.BlockSize)
	if _, err := io.ReadFull(ivSrc, iv); err != nil {
		return "", fmt.Errorf("fernet: read IV: %w", err)
	}
	block, err := aes.NewCipher(encryption)
	if err != nil {
		return "", fmt.Errorf("fernet: cipher: %w", err)
	}
	pad := aes.BlockSize - len(msg)%aes.BlockSize
	plain := append(append([]byte{}, msg...), bytes.Repeat([]byte{byte(pad)}, pad)...)

	tok := make([]byte, headerLen, headerLen+len(plain)+macLen)
	tok[0] = version
	binary.BigEndian.PutUint64(tok[1:9], uint64(now.Unix()))
	copy(tok[9:], iv)
	ct := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, plain)
	tok = append(tok, ct...)
	mac := hmac.New(sha256.New, signing)
	mac.Write(tok)
	tok = mac.Sum(tok)
	return base64.URLEncoding.EncodeToString(tok), nil
}

// Decrypt checks token's HMAC (in constant time) and returns the message.
// Like Python's Fernet.decrypt without ttl, the timestamp is not checked.
func Decrypt(key, token string) ([]byte, error) {
	signing, encryption, err := parseKey(key)
	if err != nil {
		return nil, err
	}
	raw, err := base64.URLEncoding.DecodeString(token)
	if err != nil {
		return nil, ErrInvalidToken
	}
	if len(raw) < headerLen+aes.BlockSize+macLen || raw[0] != version {
		return nil, ErrInvalidToken
	}
	body, sum := raw[:len(raw)-macLen], raw[len(raw)-macLen:]
	mac := hmac.New(sha256.New, signing)
	mac.Write(body)
	if !hmac.Equal(mac.Sum(nil), sum) {
		return nil, ErrInvalidToken
	}
	ct := body[headerLen:]
	if len(ct)%aes.BlockSize != 0 {
		return nil, ErrInvalidToken
	}
	block, err := aes.NewCipher(encryption)
	if err != nil {
		return nil, fmt.Errorf("fernet: cipher: %w", err)
	}
	plain := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, body[9:headerLen]).CryptBlocks(plain, ct)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > aes.BlockSize || !bytes.Equal(plain[len(plain)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
		return nil, ErrInvalidToken
	}
	return plain[:len(plain)-pad], nil
}

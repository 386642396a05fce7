package backupcrypt_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/charm/backupcrypt"
)

func TestRoundTripAndWrongPassphrase(t *testing.T) {
	var c backupcrypt.OpenPGP
	var sealed bytes.Buffer
	w, err := c.Encrypt(&sealed, []byte("right passphrase"), "b.tar.gz")
	require.NoError(t, err)
	_, err = w.Write([]byte("the archive"))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	assert.NotContains(t, sealed.String(), "the archive")

	r, err := c.Decrypt(bytes.NewReader(sealed.Bytes()), []byte("right passphrase"))
	require.NoError(t, err)
	plain, err := io.ReadAll(r)
	require.NoError(t, err, "the integrity check passes")
	assert.Equal(t, "the archive", string(plain))

	_, err = c.Decrypt(bytes.NewReader(sealed.Bytes()), []byte("wrong passphrase"))
	assert.True(t, c.WrongPassphrase(err), "got %v", err)
	_, err = c.Decrypt(bytes.NewReader([]byte("plain text")), []byte("right passphrase"))
	assert.False(t, c.WrongPassphrase(err))
	assert.Error(t, err)
}

func TestTamperingFailsTheLastRead(t *testing.T) {
	var c backupcrypt.OpenPGP
	var sealed bytes.Buffer
	w, err := c.Encrypt(&sealed, []byte("p"), "b")
	require.NoError(t, err)
	_, err = w.Write(bytes.Repeat([]byte("x"), 4096))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	data := sealed.Bytes()
	data[len(data)-30] ^= 1
	r, err := c.Decrypt(bytes.NewReader(data), []byte("p"))
	require.NoError(t, err)
	_, err = io.ReadAll(r)
	assert.Error(t, err, "the MDC check catches a flipped byte")
}

package sim

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"strconv"
)

// newUUID returns a random version-4 UUID.
func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	h := hex.EncodeToString(b[:])
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])
}

// newSecretID returns a 20-character id in the alphabet of the xids Juju
// uses for secrets (base32hex, lower case): e.g. "d4jc8ugr4l3s72sq2dr0".
func newSecretID() string {
	return randomString(20, "0123456789abcdefghijklmnopqrstuv")
}

// randomAlnum returns n random letters and digits, like the passwords the
// data-platform charms generate.
func randomAlnum(n int) string {
	return randomString(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
}

func randomString(n int, alphabet string) string {
	out := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range out {
		k, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err)
		}
		out[i] = alphabet[k.Int64()]
	}
	return string(out)
}

// itoa is strconv.Itoa.
func itoa(n int) string { return strconv.Itoa(n) }

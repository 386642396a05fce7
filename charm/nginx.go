package charm

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// exporter names the nginx exporter program for the nginx container: the
// file in the container is named after the source's size and modification
// time, so a new charm revision pushes a new one and an unchanged one
// costs a stat, never a transfer.
func (c *charm) exporter() (*workload.Executable, error) {
	if c.opts.Exporter == "" {
		return nil, nil
	}
	fi, err := os.Stat(c.opts.Exporter)
	if err != nil {
		return nil, fmt.Errorf("nginx exporter: %w", err)
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("%d %d", fi.Size(), fi.ModTime().UnixNano())))
	return &workload.Executable{
		Path:   workload.NginxExporterDir + "/nginx-exporter-" + hex.EncodeToString(sum[:6]),
		Source: c.opts.Exporter,
	}, nil
}

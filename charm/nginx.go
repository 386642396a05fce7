package charm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/synapse-charm/synapse-k8s-go/charm/topology"
	"github.com/synapse-charm/synapse-k8s-go/relations"
	"github.com/synapse-charm/synapse-k8s-go/workload"
	"github.com/synapse-charm/synapse-k8s-go/workload/container"
)

// applyNginx renders this unit's router from the plan and the addresses
// the units published, and applies it: a changed config reloads nginx, it
// never restarts it. It returns a note for the status when nginx cannot
// serve yet, and the readiness of nginx.
func (c *charm) applyNginx(ctx context.Context, s *Snapshot, plan topology.Plan, logTargets map[string]workload.LogTarget) (string, error) {
	in := workload.NginxInput{BindAddress: s.Address, MaxUploadSize: s.Config.MaxUploadSize}
	var err error
	for _, p := range plan.Processes {
		ip := s.Address
		if p.Unit != c.ev.Unit {
			report, _ := relations.ParseUnitReport(s.Peer.Units[p.Unit])
			ip = report.IP
		}
		if ip == "" {
			if p.Role == "main" {
				return fmt.Sprintf("nginx waits for the main %s to publish its address", p.Unit), nil
			}
			continue
		}
		in.Processes = append(in.Processes, workload.NginxProcess{Name: p.Name, Role: p.Role, IP: ip, Index: p.Index})
	}
	if in.Exporter, err = c.exporter(); err != nil {
		return "", err
	}
	want, err := workload.RenderNginxContainer(in)
	if err != nil {
		return "", fmt.Errorf("render nginx: %w", err)
	}
	want.Layer.LogTargets = logTargets
	pc, err := c.pebble(workload.NginxContainer)
	if err != nil {
		return "", err
	}
	if _, err := pc.SysInfo(); err != nil {
		return fmt.Sprintf("waiting for Pebble in the %s container", workload.NginxContainer), nil
	}
	res, err := container.Apply(ctx, pc, want, c.opts.ChangeTimeout)
	if err != nil {
		return "", fmt.Errorf("apply %s: %w: %w", want.Name, err, ErrRetry)
	}
	if res.Changed() {
		c.logf("applied %s: pushed %v, reloaded %v, restarted %v, started %v", want.Name, res.Pushed, res.Reloaded, res.Restarted, res.Started)
	}
	r, err := c.readiness(ctx, pc, want, len(res.Started)+len(res.Restarted) > 0)
	if err != nil {
		return "", fmt.Errorf("nginx readiness: %w: %w", err, ErrRetry)
	}
	if len(r.Failed) > 0 || len(r.NotReady) > 0 {
		return "nginx is not answering its health check yet", nil
	}
	return "", nil
}

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

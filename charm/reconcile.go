package charm

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"sort"

	"github.com/synapse-charm/synapse-k8s-go/charm/decide"
	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/workload"
	"github.com/synapse-charm/synapse-k8s-go/workload/container"
)

// reconcile runs one hook in one direction: observe everything, decide
// (pure), execute the decision.
func (c *charm) reconcile(ctx context.Context) error {
	s, err := c.observe(ctx, true)
	if err != nil {
		return fmt.Errorf("observe: %w", err)
	}
	d := decide.Decide(*s)
	if c.opts.AlterDecision != nil {
		c.opts.AlterDecision(&d)
	}
	return c.execute(ctx, s, d)
}

// execute carries out a decision: the secret, the database's locale, the
// containers, then the bag writes and this unit's report once, and one
// status. Any error is transient (a hook tool, Pebble or the database did
// not answer): the hook fails and Juju runs it again. Everything the
// operator must act on is a status instead.
func (c *charm) execute(ctx context.Context, s *decide.Snapshot, d decide.Decision) error {
	for _, l := range d.Logs {
		if l.Level == "" {
			c.logf("%s", l.Message)
			continue
		}
		_ = c.tools.Log(ctx, l.Level, decide.Truncate(l.Message, maxLogLine))
	}
	if d.CreateSecret != nil {
		id, err := c.tools.SecretAdd(ctx, &juju.SecretAddOptions{
			Content:     d.CreateSecret.Content,
			Label:       d.CreateSecret.Label,
			Description: d.CreateSecret.Description,
			Owner:       "application",
		})
		if err != nil {
			return fmt.Errorf("create the application secret: %w", err)
		}
		d.Writes = append(d.Writes, decide.BagWrite{RelationID: s.Peer.ID, App: true, Data: map[string]string{decide.SecretIDKey: id}})
		_ = c.tools.Log(ctx, "INFO", "created the application secret "+id)
	}
	if err := c.provideSecrets(ctx, s, &d); err != nil {
		return err
	}
	if d.UpdateSecret != nil {
		if err := c.tools.SecretSet(ctx, &juju.SecretSetOptions{ID: d.UpdateSecret.ID, Content: d.UpdateSecret.Content}); err != nil {
			return fmt.Errorf("update the application secret: %w", err)
		}
	}
	if d.AppVersion != "" {
		if err := c.tools.ApplicationVersionSet(ctx, d.AppVersion); err != nil {
			return fmt.Errorf("set the application version: %w", err)
		}
	}
	if d.VolumeID != "" {
		pc, err := c.pebble(workload.SynapseContainer)
		if err != nil {
			return err
		}
		if err := container.WriteVolumeID(pc, d.VolumeID); err != nil {
			return err
		}
		c.rememberVolumeID(s.Synapse.State.BootID, d.VolumeID)
	}
	if d.RecoverRestore != "" {
		c.forgetContainer(workload.SynapseContainer)
		if err := c.recoverRestore(ctx, s, d.RecoverRestore); err != nil {
			return err
		}
	}
	var out decide.Outcome
	if d.Synapse != nil {
		pc, err := c.pebble(workload.SynapseContainer)
		if err != nil {
			return err
		}
		if d.FixDatabase != nil {
			locale, err := container.FixDatabaseLocale(ctx, pc, d.FixDatabase, s.Config.ServerName)
			if err != nil {
				return fmt.Errorf("set the database locale: %w", err)
			}
			if !locale.IsC() {
				return fmt.Errorf("set the database locale: still %s/%s", locale.Collate, locale.CType)
			}
		}
		// Synapse loads the new configuration of every process about to
		// (re)start before anything is pushed: a configuration it rejects
		// never replaces a running one.
		if out.Rejected, err = container.CheckConfig(ctx, pc, d.Synapse.Want.Files, d.Synapse.Checks); err != nil {
			return err
		}
		if len(out.Rejected) == 0 {
			if out.Synapse, err = c.apply(ctx, pc, d.Synapse, s.Synapse.State); err != nil {
				return err
			}
		}
	}
	if d.Nginx != nil {
		pc, err := c.pebble(workload.NginxContainer)
		if err != nil {
			return err
		}
		if out.Nginx, err = c.apply(ctx, pc, d.Nginx, s.Nginx.State); err != nil {
			return err
		}
	}
	if d.OpenPort {
		if err := c.openPort(ctx, workload.NginxPort); err != nil {
			return err
		}
	}
	d = decide.Conclude(d, out)
	if d.Report != nil && s.Peer != nil {
		d.Writes = append(d.Writes, decide.BagWrite{RelationID: s.Peer.ID, Data: changed(s.Peer.Own, d.Report.Bag())})
	}
	for _, w := range d.Writes {
		if len(w.Data) == 0 {
			continue
		}
		if err := c.tools.RelationSet(ctx, &juju.RelationSetOptions{RelationID: w.RelationID, App: w.App, Data: w.Data}); err != nil {
			return fmt.Errorf("write %s: %w", bagName(w), err)
		}
		c.rememberWritten(w.RelationID, w.App, w.Data)
	}
	st := d.Status()
	return c.setStatus(ctx, juju.StatusName(st.Level.String()), st.Message)
}

// apply carries out one container's plan and reads its readiness: after a
// (re)start it waits, within ReadyTimeout, for the ready checks to pass.
func (c *charm) apply(ctx context.Context, pc pebbleClient, p *decide.ContainerPlan, observed workload.PebbleState) (*workload.Readiness, error) {
	known := c.filesKnown(p.Want.Name, observed.BootID, p.Want)
	res, err := container.ExecuteKnown(ctx, pc, p.Want, p.Changes, c.opts.ChangeTimeout, known)
	if err != nil {
		return nil, fmt.Errorf("apply %s: %w", p.Want.Name, err)
	}
	c.rememberApplied(p.Want.Name, observed.BootID, p.Want, res, !known)
	if res.Changed() {
		c.logf("applied %s: pushed %v, removed %v, layer changed %v, reloaded %v, restarted %v, started %v, stopped %v",
			p.Want.Name, res.Pushed, res.Removed, res.LayerChanged, res.Reloaded, res.Restarted, res.Started, res.Stopped)
	}
	var r workload.Readiness
	if p.Changes.Restarts() {
		if err := c.setStatus(ctx, juju.Maintenance, "starting "+p.Want.Name); err != nil {
			return nil, err
		}
		r, err = container.WaitReady(ctx, pc, p.Want, c.opts.HTTP, c.opts.ReadyTimeout)
	} else {
		// No service started or stopped: their state is as observed, and
		// Pebble's checks (not a probe of our own) say whether they serve.
		current := observed.Current
		probe := (*http.Client)(nil)
		if len(res.Stopped) > 0 || len(res.Started) > 0 || len(res.Restarted) > 0 {
			current, probe = nil, c.opts.HTTP
		}
		r, err = container.ReadyKnown(ctx, pc, p.Want, probe, current)
	}
	if err != nil {
		return nil, fmt.Errorf("read the readiness of %s: %w", p.Want.Name, err)
	}
	return &r, nil
}

// changed returns the keys of want whose value differs in have.
func changed(have, want map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range want {
		if have[k] != v {
			out[k] = v
		}
	}
	return out
}

func bagName(w decide.BagWrite) string {
	keys := make([]string, 0, len(w.Data))
	for k := range maps.Keys(w.Data) {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	owner := "unit"
	if w.App {
		owner = "application"
	}
	return fmt.Sprintf("the %s bag of %s (%v)", owner, w.RelationID, keys)
}

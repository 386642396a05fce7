package juju_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/synapse-charm/synapse-k8s-go/charm/juju"
	"github.com/synapse-charm/synapse-k8s-go/charm/juju/jujutest"
)

// staticRunner answers every call with the same bytes; it measures the
// client's own cost (argv building, JSON decoding).
type staticRunner []byte

func (s staticRunner) Run(context.Context, string, []string, []byte) ([]byte, error) {
	return s, nil
}

func BenchmarkRelationGetDecode(b *testing.B) {
	tools := juju.New(staticRunner(`{"endpoints":"pg-0:5432,pg-1:5432","database":"synapse","username":"relation-3","secret-user":"secret:d0000000000000000001","version":"14.9"}` + "\n"))
	opts := &juju.RelationGetOptions{RelationID: "database:3", Unit: "postgresql-k8s", App: true}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tools.RelationGet(ctx, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStatusSet(b *testing.B) {
	tools := juju.New(staticRunner(nil))
	opts := &juju.StatusOptions{Status: juju.Active}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := tools.StatusSet(ctx, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkObserveThreeUnits is the observe step of one hook on a
// three-unit cluster, through the in-memory tools: config, leadership, the
// peer and database bags, then one write and a status.
func BenchmarkObserveThreeUnits(b *testing.B) {
	m := jujutest.NewMemory("synapse/0")
	m.SetLeader(true)
	m.SetConfig(map[string]any{"server_name": "example.com", "report_stats": false, "workers": 2})
	peers := m.AddRelation("synapse-peers", "synapse", "synapse/1", "synapse/2")
	db := m.AddRelation("database", "postgresql-k8s", "postgresql-k8s/0")
	m.SetRelationData(peers, "synapse", true, map[string]string{"main-unit": "synapse/0", "plan": `{"generation":3}`})
	for i := 1; i < 3; i++ {
		m.SetRelationData(peers, fmt.Sprintf("synapse/%d", i), false, map[string]string{"address": fmt.Sprintf("synapse-%d.synapse-endpoints", i)})
	}
	m.SetRelationData(db, "postgresql-k8s", true, map[string]string{"endpoints": "pg:5432"})
	tools := juju.New(m)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		m.ResetCalls()
		if _, err := tools.ConfigGet(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := tools.IsLeader(ctx); err != nil {
			b.Fatal(err)
		}
		units, err := tools.RelationList(ctx, peers)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tools.RelationGet(ctx, &juju.RelationGetOptions{RelationID: peers, Unit: "synapse", App: true}); err != nil {
			b.Fatal(err)
		}
		for _, u := range units {
			if _, err := tools.RelationGet(ctx, &juju.RelationGetOptions{RelationID: peers, Unit: u}); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := tools.RelationGet(ctx, &juju.RelationGetOptions{RelationID: db, Unit: "postgresql-k8s", App: true}); err != nil {
			b.Fatal(err)
		}
		if err := tools.RelationSet(ctx, &juju.RelationSetOptions{RelationID: peers, Data: map[string]string{"applied": "3"}}); err != nil {
			b.Fatal(err)
		}
		if err := tools.StatusSet(ctx, &juju.StatusOptions{Status: juju.Active}); err != nil {
			b.Fatal(err)
		}
	}
}

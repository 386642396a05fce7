package bed_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/canonical/pebble/client"

	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
)

// A unit's workload container with its /data volume, and the database and
// Redis it will talk to. Stop in reverse order of Start.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir, _ := os.MkdirTemp("", "bed")
	defer os.RemoveAll(dir)

	pg, err := bed.StartPostgres(ctx, dir+"/pg")
	if err != nil {
		panic(err)
	}
	defer pg.Stop()
	_ = pg.CreateRole(ctx, "synapse", "secret", false)
	_ = pg.CreateDatabase(ctx, "synapse", "synapse", true) // collation C, as Synapse requires

	redis, err := bed.StartRedis(ctx, dir+"/redis")
	if err != nil {
		panic(err)
	}
	defer redis.Stop()

	_ = os.Mkdir(dir+"/data", 0o755)
	c, err := bed.StartContainer(ctx, bed.ContainerOptions{
		Name:  "synapse",
		Dir:   dir + "/u0", // Image defaults to bed.Image(ctx)
		Binds: []bed.Bind{{HostPath: dir + "/data", Path: "/data"}},
	})
	if err != nil {
		panic(err)
	}
	defer c.Stop()

	info, _ := c.Client().SysInfo()
	_ = c.Client().AddLayer(&client.AddLayerOptions{Combine: true, Label: "synapse", LayerData: []byte("services: {}")})
	fmt.Println(info.Version != "", pg.Port() > 0, redis.Port() > 0)
}

package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/synapse-charm/synapse-k8s-go/tests/bed"
	"github.com/synapse-charm/synapse-k8s-go/tests/sim"
)

// stack holds the bed's servers, started on first use, for the simulated
// provider charms.
type stack struct {
	dir   string
	pg    *bed.Postgres
	redis *bed.Redis
	s3    *bed.S3
}

func (s *stack) postgres(ctx context.Context) (*bed.Postgres, error) {
	if s.pg == nil {
		pg, err := bed.StartPostgres(ctx, filepath.Join(s.dir, "postgres"))
		if err != nil {
			return nil, err
		}
		s.pg = pg
	}
	return s.pg, nil
}

func (s *stack) redisServer(ctx context.Context) (*bed.Redis, error) {
	if s.redis == nil {
		r, err := bed.StartRedis(ctx, filepath.Join(s.dir, "redis"))
		if err != nil {
			return nil, err
		}
		s.redis = r
	}
	return s.redis, nil
}

func (s *stack) s3Server(ctx context.Context) (*bed.S3, error) {
	if s.s3 == nil {
		srv, err := bed.StartS3(ctx, filepath.Join(s.dir, "s3"))
		if err != nil {
			return nil, err
		}
		s.s3 = srv
	}
	return s.s3, nil
}

// stop stops the servers, S3 and Redis before PostgreSQL.
func (s *stack) stop() error {
	var errs []error
	if s.s3 != nil {
		errs = append(errs, s.s3.Stop())
	}
	if s.redis != nil {
		errs = append(errs, s.redis.Stop())
	}
	if s.pg != nil {
		errs = append(errs, s.pg.Stop())
	}
	return errors.Join(errs...)
}

// integration describes an "integrate" step.
type integration struct {
	// App is postgresql, redis or s3 (or the full charm names).
	App string `yaml:"app"`
	// Name is the remote application name (default: the charm's usual).
	Name string `yaml:"name"`
	// Endpoint is our endpoint (default: database, redis, media).
	Endpoint string `yaml:"endpoint"`
	// Track is the s3-integrator track (1 or 2).
	Track int `yaml:"track"`
	// Bucket is s3-integrator's configured bucket.
	Bucket string `yaml:"bucket"`
	// Units is the remote application's unit count.
	Units int `yaml:"units"`
	// Hostname makes postgresql-k8s hand out a DNS name.
	Hostname string `yaml:"hostname"`
}

// remoteApp builds the simulated provider for an integration.
func (s *stack) remoteApp(ctx context.Context, in integration) (sim.RemoteApp, string, error) {
	switch in.App {
	case "postgresql", "postgresql-k8s", "postgres":
		pg, err := s.postgres(ctx)
		if err != nil {
			return nil, "", err
		}
		return &sim.PostgreSQL{AppName: in.Name, Server: pg, UnitCount: in.Units, Hostname: in.Hostname}, or(in.Endpoint, "database"), nil
	case "redis", "redis-k8s":
		r, err := s.redisServer(ctx)
		if err != nil {
			return nil, "", err
		}
		return &sim.Redis{AppName: in.Name, Server: r, UnitCount: in.Units}, or(in.Endpoint, "redis"), nil
	case "s3", "s3-integrator":
		srv, err := s.s3Server(ctx)
		if err != nil {
			return nil, "", err
		}
		track := in.Track
		if track == 0 {
			track = 1
		}
		name := in.Name
		if name == "" {
			name = "s3-integrator"
			if ep := or(in.Endpoint, "media"); ep != "media" {
				name = "s3-integrator-" + ep
			}
		}
		return &sim.S3Integrator{AppName: name, Track: track, Server: srv, Bucket: in.Bucket, EnsureBucket: true}, or(in.Endpoint, "media"), nil
	}
	return nil, "", fmt.Errorf("integrate: unknown application %q (postgresql, redis or s3)", in.App)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

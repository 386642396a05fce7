package e2e

// The soak: scaling 1->3->2->4->1 under a steady Matrix load.
//
// CI runs it with the default bound (90 s); the full run is
//
//	SOAK_DURATION=10m go test -count=1 -timeout 60m -run TestSoak -v ./tests/e2e
//
// SOAK_DURATION bounds the whole scaling sequence (the scale operations
// included); each plateau between two operations holds for an equal share
// of what is left, and at least soakMinHold.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/tests/matrix"
	"github.com/synapse-charm/synapse-k8s-go/tests/sim"
)

const (
	soakDefault  = 90 * time.Second
	soakMax      = 10 * time.Minute
	soakMinHold  = 5 * time.Second
	soakUsers    = 3
	soakInterval = 200 * time.Millisecond // per user: one request every interval
	soakAttempts = 4                      // tries of one request, each through another unit when there is one
	soakTimeout  = 20 * time.Second       // per try
)

// soakDuration is SOAK_DURATION, default soakDefault, at most soakMax.
func soakDuration(t *testing.T) time.Duration {
	v := os.Getenv("SOAK_DURATION")
	if v == "" {
		return soakDefault
	}
	d, err := time.ParseDuration(v)
	require.NoError(t, err, "SOAK_DURATION")
	require.Positive(t, d, "SOAK_DURATION")
	require.LessOrEqual(t, d, soakMax, "SOAK_DURATION is bounded")
	return d
}

// unitPool is the set of unit routers a client may send to, as a
// Kubernetes Service or an ingress holds them: a unit joins once it is
// active; a departing unit stays until it is gone (so requests reach it
// while it is being removed, and the client retries elsewhere).
type unitPool struct {
	mu        sync.Mutex
	units     map[string]string // unit -> nginx base URL
	departing map[string]bool
}

func (p *unitPool) set(units map[string]string, departing ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.units = units
	p.departing = map[string]bool{}
	for _, u := range departing {
		p.departing[u] = true
	}
}

// pick returns a random unit not in avoid (any unit if all are avoided).
func (p *unitPool) pick(avoid map[string]bool) (unit, base string, departing bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var names []string
	for u := range p.units {
		if !avoid[u] {
			names = append(names, u)
		}
	}
	if len(names) == 0 {
		for u := range p.units {
			names = append(names, u)
		}
	}
	sort.Strings(names)
	u := names[rand.IntN(len(names))]
	return u, p.units[u], p.departing[u]
}

// soakStats counts what the load saw.
type soakStats struct {
	mu                sync.Mutex
	phase             string
	steady            bool
	requests          map[string]int // kind -> requests
	tries             int            // requests sent to a unit, retries included
	rateLimited       int            // answers 429, waited for and retried
	firstTryFailed    map[string]int // phase -> first tries that failed
	firstTryDeparting map[string]int // phase -> of those, to a departing unit
	failed            int            // requests that failed on every try
	steadyFailures    []string       // first-try failures while no scaling ran
	samples           map[string][]string
	latency           map[string][]time.Duration // kind -> latency of successful requests (retries included)
	acked             []string
}

func (s *soakStats) setPhase(phase string, steady bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.phase, s.steady = phase, steady
}

// do runs one request through the pool, retrying through other units as a
// client behind an ingress would, and records it.
func (s *soakStats) do(ctx context.Context, pool *unitPool, kind string, f func(ctx context.Context, base string) error) error {
	start := time.Now()
	s.mu.Lock()
	phase, steady := s.phase, s.steady // where the request began
	s.mu.Unlock()
	tried := map[string]bool{}
	var err error
	for attempt, limited := 1, 0; attempt <= soakAttempts; attempt++ {
		unit, base, departing := pool.pick(tried)
		tried[unit] = true
		actx, cancel := context.WithTimeout(ctx, soakTimeout)
		err = f(actx, base)
		cancel()
		s.mu.Lock()
		s.tries++
		s.mu.Unlock()
		if wait, ok := retryAfter(err); ok && limited < 5 {
			// Rate-limited: a client waits as told and tries again; not a
			// failure of the deployment.
			limited++
			attempt--
			s.mu.Lock()
			s.rateLimited++
			s.mu.Unlock()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			continue
		}
		if err == nil {
			s.mu.Lock()
			s.requests[kind]++
			s.latency[kind] = append(s.latency[kind], time.Since(start))
			s.mu.Unlock()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt == 1 {
			s.mu.Lock()
			s.firstTryFailed[phase]++
			if departing {
				s.firstTryDeparting[phase]++
			}
			msg := fmt.Sprintf("%s via %s: %s", kind, unit, shortErr(err))
			if steady {
				s.steadyFailures = append(s.steadyFailures, phase+": "+msg)
			}
			if len(s.samples[phase]) < 5 {
				s.samples[phase] = append(s.samples[phase], msg)
			}
			s.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt) * 250 * time.Millisecond):
		}
	}
	s.mu.Lock()
	s.requests[kind]++
	s.failed++
	s.mu.Unlock()
	return err
}

// retryAfter reports a 429 answer and how long it asks to wait (at most
// 10 s).
func retryAfter(err error) (time.Duration, bool) {
	var me *matrix.Error
	if !errors.As(err, &me) || me.Status != http.StatusTooManyRequests {
		return 0, false
	}
	var body struct {
		RetryAfterMS int64 `json:"retry_after_ms"`
	}
	_ = json.Unmarshal([]byte(me.Body), &body)
	return min(max(time.Duration(body.RetryAfterMS)*time.Millisecond, 100*time.Millisecond), 10*time.Second), true
}

func shortErr(err error) string {
	var me *matrix.Error
	if errors.As(err, &me) {
		return fmt.Sprintf("%s %d %s", me.Method, me.Status, short(me.Body))
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + short(ue.Err.Error())
	}
	return short(err.Error())
}

// TestSoak scales 1->3->2->4->1 while soakUsers users send and sync
// through random units' nginx, and reports requests, failures, latency
// and process restarts. Every message the homeserver acknowledged must
// read back at the end. A request that fails is retried through another
// unit (as a client behind an ingress would); first-try failures are
// counted per phase, split by whether the unit tried was being removed;
// none is allowed while no scaling runs, and no request may fail on every
// try.
func TestSoak(t *testing.T) {
	dur := soakDuration(t)
	d := newDeployment(t, 1)
	// The whole scenario gets its own deadline (newDeployment's is 20 min).
	ctx, cancel := context.WithTimeout(context.Background(), dur+30*time.Minute)
	defer cancel()
	d.ctx = ctx
	d.integrate("postgresql")
	d.integrate("redis")
	d.requireActive()

	httpc := &http.Client{Timeout: soakTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second}}
	var users []*matrix.Client
	for i := 0; i < soakUsers; i++ {
		c := d.registerUser("synapse/0", fmt.Sprintf("soak%d", i))
		c.HTTP = httpc
		users = append(users, c)
	}
	// Synapse rate-limits each user's messages (0.2/s, bursts of 10 by
	// default); the load users are exempt, as load-test users usually
	// are. A 429 that still comes is honoured (see soakStats.do).
	admin := d.registerWithPassword("synapse/0", "soakadmin", fmt.Sprintf("pw-admin-%d", time.Now().UnixNano()), true)
	for _, u := range users {
		require.NoError(t, admin.Do(ctx, "POST", "/_synapse/admin/v1/users/"+url.PathEscape(u.UserID)+"/override_ratelimit",
			map[string]any{"messages_per_second": 0, "burst_count": 0}, nil), "lift %s's rate limit", u.UserID)
	}
	var invite []string
	for _, u := range users[1:] {
		invite = append(invite, u.UserID)
	}
	room, err := users[0].CreateRoom(ctx, invite...)
	require.NoError(t, err)
	for _, u := range users[1:] {
		require.NoError(t, u.Join(ctx, room))
	}

	pool := &unitPool{}
	routers := func() map[string]string {
		out := map[string]string{}
		for _, u := range d.m.Units() {
			out[u.Name] = "http://" + u.Address + ":8080"
		}
		return out
	}
	pool.set(routers())
	stats := &soakStats{requests: map[string]int{}, firstTryFailed: map[string]int{}, firstTryDeparting: map[string]int{},
		samples: map[string][]string{}, latency: map[string][]time.Duration{}}
	stats.setPhase("1 unit", true)

	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		stopLoad()
		wg.Wait()
	}()
	for i, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			since := ""
			tick := time.NewTicker(soakInterval)
			defer tick.Stop()
			// Bounded: the load stops with loadCtx, and in any case after
			// this many requests.
			limit := int(soakMax/soakInterval) + 100
			for n := 0; n < limit; n++ {
				select {
				case <-loadCtx.Done():
					return
				case <-tick.C:
				}
				if n%2 == 0 {
					text := fmt.Sprintf("soak user %d message %d", i, n/2)
					txn := fmt.Sprintf("soak%d-%d-%d", i, n/2, time.Now().UnixNano())
					err := stats.do(loadCtx, pool, "send", func(ctx context.Context, base string) error {
						_, err := sendTxn(ctx, u.WithBase(base), room, txn, text)
						return err
					})
					if err == nil {
						stats.mu.Lock()
						stats.acked = append(stats.acked, text)
						stats.mu.Unlock()
					}
					continue
				}
				_ = stats.do(loadCtx, pool, "sync", func(ctx context.Context, base string) error {
					res, err := u.WithBase(base).Sync(ctx, since, 0)
					if err == nil {
						since = res.NextBatch
					}
					return err
				})
			}
		}()
	}

	start := time.Now()
	deadline := start.Add(dur)
	hold := func(plateausLeft int) {
		wait := max(time.Until(deadline)/time.Duration(plateausLeft), soakMinHold)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			t.Fatalf("soak: %v", ctx.Err())
		}
	}
	steps := []int{3, 2, 4, 1}
	type transition struct {
		name     string
		took     time.Duration
		restarts map[string]int
	}
	var transitions []transition
	hold(len(steps) + 1)
	current := 1
	for i, n := range steps {
		name := fmt.Sprintf("%d->%d", current, n)
		var departing []string
		for _, u := range d.m.Units() {
			if u.Number >= n {
				departing = append(departing, u.Name)
			}
		}
		pool.set(routers(), departing...)
		stats.setPhase("scaling "+name, false)
		snap := d.m.PebbleSnapshot(ctx)
		began := time.Now()
		require.NoError(t, d.m.Scale(ctx, n))
		d.converge(10 * time.Minute)
		took := time.Since(began)
		restarts := sim.Restarts(snap, d.m.PebbleSnapshot(ctx))
		transitions = append(transitions, transition{name, took, restarts})
		t.Logf("scale %s: %s; statuses: %s; restarts: %v", name, took.Round(time.Second), d.statuses(), restarts)
		if n > current {
			assert.Empty(t, restarts, "scaling %s up restarted a process", name)
		}
		current = n
		pool.set(routers())
		stats.setPhase(fmt.Sprintf("%d units", n), true)
		hold(len(steps) - i)
	}
	stopLoad()
	wg.Wait()
	soakTook := time.Since(start)
	d.requireActive()
	d.processHealth()

	// Every acknowledged message is in the room's history.
	var texts []string
	err = eventually(ctx, 2*time.Minute, time.Second, func(ctx context.Context) error {
		var err error
		texts, err = roomTexts(ctx, users[0].WithBase(d.nginx("synapse/0")), room)
		return err
	})
	require.NoError(t, err)
	count := map[string]int{}
	for _, text := range texts {
		count[text]++
	}
	duplicates := 0
	for _, n := range count {
		if n > 1 {
			duplicates += n - 1
		}
	}
	lost := missing(stats.acked, texts)

	// The report.
	stats.mu.Lock()
	defer stats.mu.Unlock()
	total, firstFailed, firstDeparting := 0, 0, 0
	for _, n := range stats.requests {
		total += n
	}
	var phases []string
	for phase, n := range stats.firstTryFailed {
		firstFailed += n
		firstDeparting += stats.firstTryDeparting[phase]
		phases = append(phases, fmt.Sprintf("%s: %d (%d to a departing unit) e.g. %q", phase, n, stats.firstTryDeparting[phase], stats.samples[phase]))
	}
	sort.Strings(phases)
	var all []time.Duration
	lat := map[string]string{}
	for kind, l := range stats.latency {
		sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
		lat[kind] = fmt.Sprintf("p50 %s p99 %s max %s", percentile(l, 50).Round(time.Millisecond), percentile(l, 99).Round(time.Millisecond), l[len(l)-1].Round(time.Millisecond))
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	totalRestarts := 0
	var steps2 []string
	for _, tr := range transitions {
		n := 0
		for _, c := range tr.restarts {
			n += c
		}
		totalRestarts += n
		steps2 = append(steps2, fmt.Sprintf("%s in %s: %d restarts %v", tr.name, tr.took.Round(time.Second), n, tr.restarts))
	}
	t.Logf("soak report (SOAK_DURATION %s, ran %s, %d users, one request per user every %s):", dur, soakTook.Round(time.Second), soakUsers, soakInterval)
	t.Logf("  requests: %d (%v), %d tries with retries; failed on every try: %d; rate-limited (429, waited and retried): %d",
		total, stats.requests, stats.tries, stats.failed, stats.rateLimited)
	t.Logf("  first-try failures (retried through another unit): %d, of which %d to a unit being removed", firstFailed, firstDeparting)
	for _, p := range phases {
		t.Logf("    %s", p)
	}
	t.Logf("  latency as the user sees it (retries included): all p50 %s p99 %s; %v",
		percentile(all, 50).Round(time.Millisecond), percentile(all, 99).Round(time.Millisecond), lat)
	t.Logf("  process restarts: %d; %s", totalRestarts, strings.Join(steps2, "; "))
	t.Logf("  messages: %d acknowledged, %d in the room's history, %d lost, %d duplicated", len(stats.acked), len(texts), len(lost), duplicates)

	assert.Empty(t, lost, "acknowledged messages lost")
	assert.Zero(t, stats.failed, "requests failed through every unit tried")
	assert.Empty(t, stats.steadyFailures, "first-try failures while no scaling ran")
	assert.Positive(t, stats.requests["send"], "the load ran")
}

package decide_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
)

// modelMaxHooksPerUnit bounds the hooks of one step per unit: every step
// must settle well within it.
const modelMaxHooksPerUnit = 80

// modelResult is what running one history found.
type modelResult struct {
	violations []modelViolation
	// scenario is each operation as it ran, "" for one that did nothing.
	scenario []string
	hooks    int
	checks   int
	trace    []string
}

// first returns the first violation of invariant ("" for any invariant
// expected to hold), nil for none.
func (r modelResult) first(invariant string) *modelViolation {
	for i, v := range r.violations {
		if v.invariant == invariant || invariant == "" && modelExpectedToFail[v.invariant] == "" {
			return &r.violations[i]
		}
	}
	return nil
}

// modelRun runs a history to the end, settling after every operation,
// and stops at the first violation of an invariant expected to hold.
func modelRun(h modelHistory, mutant *modelMutant) modelResult {
	w := newModelWorld(h.Seed, mutant)
	var res modelResult
	for _, op := range h.Ops {
		res.scenario = append(res.scenario, w.apply(op))
		w.settle()
		if w.check.hard() != nil {
			break
		}
		w.check.quiescent()
		if w.check.hard() != nil {
			break
		}
	}
	res.violations, res.hooks, res.checks, res.trace = w.check.found, w.hooks, w.check.checks, w.trace
	return res
}

// settle runs queued hooks, interleaving units in a seeded order, until
// none is left or the bound is hit.
func (w *modelWorld) settle() {
	w.hooksThisStep = 0
	limit := modelMaxHooksPerUnit * max(1, len(w.units))
	var lastErr error
	for w.hooksThisStep < limit {
		var ready []*modelUnit
		for _, u := range w.agents() {
			if len(u.queue) > 0 {
				ready = append(ready, u)
			}
		}
		if len(ready) == 0 {
			return
		}
		u := ready[w.rng.IntN(len(ready))]
		if err := w.runHook(u); err != nil {
			if !errors.Is(err, errModelHookFailed) {
				panic(err)
			}
			lastErr = err
		}
		if w.check.hard() != nil {
			return
		}
	}
	w.check.hook = "settling"
	w.check.fail(modelInvBounded, "still running hooks after %d (last failure: %v; last hooks: %s)", limit, lastErr, strings.Join(w.trace[max(0, len(w.trace)-8):], ", "))
}

// modelShrink drops operations (and deploys fewer units) while the
// history still breaks invariant, to a minimal history.
func modelShrink(h modelHistory, mutant *modelMutant, invariant string) modelHistory {
	fails := func(c modelHistory) bool { return modelRun(c, mutant).first(invariant) != nil }
	for changed := true; changed; {
		changed = false
		for i := len(h.Ops) - 1; i >= 1; i-- {
			c := modelHistory{Seed: h.Seed, Ops: append(append([]modelOp(nil), h.Ops[:i]...), h.Ops[i+1:]...)}
			if fails(c) {
				h, changed = c, true
			}
		}
		for n := 1; n < h.Ops[0].N; n++ {
			c := modelHistory{Seed: h.Seed, Ops: append([]modelOp{{Kind: modelOpDeploy, N: n, Key: h.Ops[0].Key}}, h.Ops[1:]...)}
			if fails(c) {
				h, changed = c, true
				break
			}
		}
	}
	// Another seed may order the hooks so that fewer are needed; keep the
	// history, only try a few schedules.
	rng := rand.New(rand.NewPCG(h.Seed, 1))
	for range 8 {
		c := modelHistory{Seed: rng.Uint64(), Ops: h.Ops}
		if fails(c) && modelRun(c, mutant).hooks < modelRun(h, mutant).hooks {
			h = c
		}
	}
	return h
}

// modelScenario prints a history as a readable scenario with the
// violation of invariant it leads to.
func modelScenario(h modelHistory, mutant *modelMutant, invariant string) string {
	res := modelRun(h, mutant)
	var b strings.Builder
	fmt.Fprintf(&b, "scenario (seed %d, %d hooks):\n", h.Seed, res.hooks)
	for i, line := range res.scenario {
		if line == "" {
			line = fmt.Sprintf("(%s: nothing to do)", h.Ops[i].Kind)
		}
		fmt.Fprintf(&b, "  %d. %s\n", i+1, line)
	}
	if v := res.first(invariant); v != nil {
		fmt.Fprintf(&b, "breaks: %s\n", v)
	}
	fmt.Fprintf(&b, "last hooks: %s\n", strings.Join(res.trace[max(0, len(res.trace)-12):], ", "))
	return b.String()
}

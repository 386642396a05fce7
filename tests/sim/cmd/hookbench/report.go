package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// median of a sample (the lower middle of an even count); zero if empty.
func median[T int | time.Duration](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := append([]T(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)-1)/2]
}

func minMax[T int | time.Duration](xs []T) (lo, hi T) {
	for i, x := range xs {
		if i == 0 || x < lo {
			lo = x
		}
		if i == 0 || x > hi {
			hi = x
		}
	}
	return lo, hi
}

// ms formats the median and range of durations in milliseconds.
func ms(xs []time.Duration) string {
	lo, hi := minMax(xs)
	f := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/1e6) }
	return fmt.Sprintf("%s [%s–%s]", f(median(xs)), f(lo), f(hi))
}

func counts(xs []int) string {
	lo, hi := minMax(xs)
	if lo == hi {
		return fmt.Sprint(median(xs))
	}
	return fmt.Sprintf("%d [%d–%d]", median(xs), lo, hi)
}

// breakdown is each key's median count per hook, most first, e.g.
// "relation-ids 12, is-leader 1"; keys absent from a sample count 0.
func breakdown(maps []map[string]int) string {
	keys := map[string]bool{}
	for _, m := range maps {
		for k := range m {
			keys[k] = true
		}
	}
	type kv struct {
		k    string
		n    int
		r    string
		sort float64
	}
	var out []kv
	for k := range keys {
		var xs []int
		sum := 0
		for _, m := range maps {
			xs = append(xs, m[k])
			sum += m[k]
		}
		out = append(out, kv{k, median(xs), counts(xs), float64(sum) / float64(len(maps))})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].sort != out[j].sort {
			return out[i].sort > out[j].sort
		}
		return out[i].k < out[j].k
	})
	var parts []string
	for _, e := range out {
		parts = append(parts, e.k+" "+e.r)
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// printReport prints the table of r; with a base, the base's table first
// and then the ratios (this charm / base, medians).
func printReport(w io.Writer, r *Report) {
	if r.Base != nil {
		fmt.Fprint(w, "base: ")
		printOne(w, r.Base)
		fmt.Fprint(w, "\n")
	}
	printOne(w, r)
	if r.Base != nil {
		printRatios(w, r.Base, r)
	}
}

// summary is a scenario's medians.
type summary struct {
	wall, charm, total time.Duration
	tools, reqs        int
}

func summarize(s Scenario) summary {
	var wall, charm, total []time.Duration
	var tools, reqs []int
	for _, x := range s.Samples {
		wall, charm, total = append(wall, x.Wall), append(charm, x.CharmCPU), append(total, x.TotalCPU)
		tools, reqs = append(tools, x.ToolCalls), append(reqs, x.Requests)
	}
	return summary{median(wall), median(charm), median(total), median(tools), median(reqs)}
}

func printRatios(w io.Writer, base, r *Report) {
	ratio := func(a, b float64) string {
		if b == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f×", a/b)
	}
	fmt.Fprintf(w, "\nratios, this charm / base (medians):\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "hook\twall\tcharm CPU\tCPU incl. tools\ttool calls\tPebble requests")
	for _, s := range r.Scenarios {
		for _, b := range base.Scenarios {
			if b.Name != s.Name {
				continue
			}
			x, y := summarize(s), summarize(b)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, ratio(float64(x.wall), float64(y.wall)),
				ratio(float64(x.charm), float64(y.charm)), ratio(float64(x.total), float64(y.total)),
				ratio(float64(x.tools), float64(y.tools)), ratio(float64(x.reqs), float64(y.reqs)))
		}
	}
	tw.Flush()
	if r.Startup != nil && base.Startup != nil {
		fmt.Fprintf(w, "start-up CPU: %s\n", ratio(float64(median(r.Startup.Charm)), float64(median(base.Startup.Charm))))
	}
	if r.Scale != nil && base.Scale != nil {
		fmt.Fprintf(w, "scale: hooks %s, tool calls %s, time %s\n", ratio(float64(r.Scale.Hooks), float64(base.Scale.Hooks)),
			ratio(float64(r.Scale.ToolCalls), float64(base.Scale.ToolCalls)), ratio(float64(r.Scale.Took), float64(base.Scale.Took)))
	}
}

func printOne(w io.Writer, r *Report) {
	fmt.Fprintf(w, "hookbench %s: %s, %d CPUs, load %s, n=%d per hook and unit; median [min–max]\n\n",
		r.Date.Format(time.RFC3339), r.Charm, r.CPUs, strings.Join(r.Load, " → "), r.N)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "hook\tsamples\twall ms\tcharm CPU ms\tCPU incl. tools ms\ttool calls\tPebble requests")
	for _, s := range r.Scenarios {
		var wall, charm, total []time.Duration
		var tools, reqs []int
		for _, x := range s.Samples {
			wall, charm, total = append(wall, x.Wall), append(charm, x.CharmCPU), append(total, x.TotalCPU)
			tools, reqs = append(tools, x.ToolCalls), append(reqs, x.Requests)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", s.Name, len(s.Samples), ms(wall), ms(charm), ms(total), counts(tools), counts(reqs))
	}
	tw.Flush()
	exact, all := 0, 0
	for _, s := range r.Scenarios {
		for _, x := range s.Samples {
			all++
			if x.ToolsExact {
				exact++
			}
		}
	}
	if exact == all {
		fmt.Fprintln(w, "charm CPU = wait4's (charm + tools) less the tools' own, exits included (cgroup)")
	} else {
		fmt.Fprintf(w, "charm CPU = wait4's less the tools' getrusage before exit in %d of %d hooks (no cgroup): their exits count as the charm's\n", all-exact, all)
	}
	for _, s := range r.Scenarios {
		var tools, pebble []map[string]int
		for _, x := range s.Samples {
			tools, pebble = append(tools, x.Tools), append(pebble, x.Pebble)
		}
		fmt.Fprintf(w, "\n%s:\n  tools: %s\n  Pebble: %s\n", s.Name, breakdown(tools), breakdown(pebble))
		if s.Extra > 0 {
			fmt.Fprintf(w, "  other hooks it caused: %d\n", s.Extra)
		}
	}
	if st := r.Startup; st != nil {
		c, h := median(st.Charm), median(st.Hello)
		fmt.Fprintf(w, "\nstart-up, CPU before the first hook-tool call (median of %d / %d): charm %.1f ms, static hello-world %.1f ms, ratio %.2f×\n",
			len(st.Charm), len(st.Hello), float64(c)/1e6, float64(h)/1e6, float64(c)/float64(h))
	}
	if s := r.Scale; s != nil {
		fmt.Fprintf(w, "scale %d→%d (PostgreSQL, Redis): %d hooks, %d tool calls, %.1f s until idle, %d restarts, %d/%d units active\n",
			s.From, s.To, s.Hooks, s.ToolCalls, s.Took.Seconds(), s.Restarts, s.Active, s.To)
	}
}

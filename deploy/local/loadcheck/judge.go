package main

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"
)

// slowFloor is the least a request must take to count as slowed by a
// fault: on this shared 2-core machine, reads of 100-200 ms happen with
// no fault at all.
const slowFloor = 500 * time.Millisecond

// disturbed returns the end of the last request that failed, or took
// longer than slow, among those still running at or started after from.
func disturbed(samples []sample, from time.Time, slow time.Duration) (time.Time, bool) {
	var last time.Time
	for _, s := range samples {
		if s.end.Before(from) {
			continue
		}
		if (s.err != nil || s.end.Sub(s.start) > slow) && s.end.After(last) {
			last = s.end
		}
	}
	return last, !last.IsZero()
}

// slowThreshold is five times the p99 of the requests that ended before
// the fault, and at least slowFloor.
func slowThreshold(samples []sample, before time.Time) time.Duration {
	var d []time.Duration
	for _, s := range samples {
		if s.end.Before(before) && s.err == nil {
			d = append(d, s.end.Sub(s.start))
		}
	}
	if len(d) == 0 {
		return slowFloor
	}
	slices.Sort(d)
	return max(slowFloor, 5*d[len(d)*99/100])
}

// slowestAfter is the longest read among those running at or after t.
func slowestAfter(samples []sample, t time.Time) time.Duration {
	var m time.Duration
	for _, s := range samples {
		if !s.write && !s.end.Before(t) && s.end.Sub(s.start) > m {
			m = s.end.Sub(s.start)
		}
	}
	return m
}

// judgeRestart: the window runs from the restart command to the end of the
// last request it failed or slowed.
func (r *result) judgeRestart(samples []sample) {
	slow := slowThreshold(samples, r.injectedAt)
	if end, ok := disturbed(samples, r.injectedAt, slow); ok {
		r.window = end.Sub(r.injectedAt)
	}
	r.after = slowestAfter(samples, r.injectedAt)
	r.windowNote = fmt.Sprintf("from `pg_ctl restart` (which took %s) to the end of the last request that failed or took over %s; slowest read %s",
		ms(r.injectTook), ms(slow), ms(r.after))
	r.goalMet = r.readsFailed*1000 <= r.reads
	r.goalNote = fmt.Sprintf("%.3f%% of reads failed", pct(r.readsFailed, r.reads))
}

// judgeStandby: the window runs from the stop to the moment no instance
// sends reads to the standby any more, from the instances' own metrics.
func (r *result) judgeStandby(w []instanceSeries, samples []sample) {
	var notes []string
	for _, s := range w {
		down, last := s.afterStop(r.injectedAt)
		gone := max(down, last)
		r.window = max(r.window, gone)
		notes = append(notes, fmt.Sprintf("%s: replica out of rotation after %s, last read routed to it within %s",
			s.name, ms(down), ms(last)))
	}
	r.after = slowestAfter(samples, r.injectedAt)
	r.windowNote = "from `pg_ctl stop` to the last instance taking the standby out of rotation (sets_db_replica_up, " +
		"sets_db_routed_reads_total sampled every 50 ms): " + strings.Join(notes, "; ") +
		fmt.Sprintf("; slowest read after the stop %s", ms(r.after))
	r.goalMet = r.window <= time.Second && r.readsFailed == 0 && len(w) > 0
	r.goalNote = fmt.Sprintf("all reads on the primary %s after the stop, %d reads failed", ms(r.window), r.readsFailed)
}

// judgeKill: every failed request must have been in flight when the
// instance died (sent before the process was gone: until then its
// listening socket still took connections); the window runs from the kill to the end of the last
// failed request.
func (r *result) judgeKill(samples []sample) {
	killEnd := r.injectedAt.Add(r.injectTook)
	inFlight, failedInFlight, failedAfter := 0, 0, 0
	var lastFail time.Time
	for _, s := range samples {
		live := s.start.Before(killEnd) && s.end.After(r.injectedAt)
		if live {
			inFlight++
		}
		if s.err == nil {
			continue
		}
		if s.end.After(lastFail) && s.end.After(r.injectedAt) {
			lastFail = s.end
		}
		if live {
			failedInFlight++
		} else if s.start.After(killEnd) {
			failedAfter++
		}
	}
	if !lastFail.IsZero() {
		r.window = lastFail.Sub(r.injectedAt)
	}
	r.after = slowestAfter(samples, r.injectedAt)
	r.windowNote = fmt.Sprintf("from the SIGKILL to the end of the last failed request; the process was gone %s after the signal; "+
		"%d requests were in flight on all three instances between the signal and its end; slowest read after it %s",
		ms(r.injectTook), inFlight, ms(r.after))
	failed := r.readsFailed + r.writesFailed
	r.goalMet = failedAfter == 0 && failed == failedInFlight
	r.goalNote = fmt.Sprintf("%d failed, %d of them in flight at the kill, %d started after it", failed, failedInFlight, failedAfter)
}

// shortError names a failure without what differs from one request to
// the next (ports, addresses), so that failures group by cause.
func shortError(err error) string {
	var f *gqlFailure
	var op *net.OpError
	switch {
	case errors.As(err, &f):
		return f.Error()
	case errors.As(err, &op):
		return op.Op + ": " + op.Err.Error()
	case strings.Contains(err.Error(), "EOF"):
		return "connection closed before an answer (EOF)"
	}
	return err.Error()
}

func ms(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
	}
	if d < time.Second {
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func pct(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

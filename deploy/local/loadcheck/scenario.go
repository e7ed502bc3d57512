package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// scenario is one row of the table: a fault, how it is injected and
// undone, and the goal it is held to.
type scenario struct {
	name, fault, goal string
	// inject and undo are -fault-cmd's arguments; none for the baseline.
	inject, undo []string
	// watchReplicas: sample the instances' read routing while it runs.
	watchReplicas bool
	// killAPI: the fault is a SIGKILL that loadcheck sends itself, to the
	// pid -fault-cmd api-pid prints, so that the instant of the kill is
	// known to the microsecond (the script takes a few hundred
	// milliseconds to start on a loaded machine).
	killAPI string
}

func scenarioByName(name string, o options) (scenario, bool) {
	kill := strconv.Itoa(o.killed)
	switch name {
	case "load":
		return scenario{name: name, fault: "none (mixed load through HAProxy)", goal: "no request fails"}, true
	case "primary-restart":
		return scenario{name: name, fault: "primary restarted (`pg_ctl restart -m fast`)",
			goal: "≤ 0.1% of reads fail", inject: []string{"primary-restart"}}, true
	case "standby-stop":
		return scenario{name: name, fault: "standby stopped (`pg_ctl stop -m immediate`)",
			goal: "reads move to the primary within 1 s", inject: []string{"standby-stop"},
			undo: []string{"standby-start"}, watchReplicas: true}, true
	case "api-kill":
		return scenario{name: name, fault: "API instance " + kill + " SIGKILLed",
			goal: "only its in-flight requests fail", killAPI: kill, undo: []string{"api-start", kill}}, true
	}
	return scenario{}, false
}

// result is what one scenario measured.
type result struct {
	scenario
	reads, writes             int
	readsFailed, writesFailed int
	errorKinds                map[string]int
	injectedAt                time.Time
	injectTook                time.Duration
	// window is the scenario's measure of how long the fault disturbed
	// the load; windowNote says what it measured.
	window     time.Duration
	windowNote string
	goalMet    bool
	goalNote   string
	lost       int
	acked      int
	staleReads int
	slowest    time.Duration
	after      time.Duration // the slowest read that started after the fault
	samples    []sample
}

func (r result) summary() string {
	return fmt.Sprintf("%d reads (%d failed), %d writes (%d failed), window %s, %d of %d acknowledged writes lost, goal met: %v",
		r.reads, r.readsFailed, r.writes, r.writesFailed, r.window.Round(time.Millisecond), r.lost, r.acked, r.goalMet)
}

// runScenario runs the load for o.duration, injects sc's fault at
// o.faultAt, undoes it when the load is over, and checks the writes.
func runScenario(ctx context.Context, c *client, o options, users []*user, sc scenario) (result, error) {
	r := result{scenario: sc, errorKinds: map[string]int{}}
	var pid int
	if sc.killAPI != "" {
		out, err := exec.CommandContext(ctx, o.faultCmd, "api-pid", sc.killAPI).Output()
		if err != nil {
			return r, fmt.Errorf("api-pid %s: %w", sc.killAPI, err)
		}
		if pid, err = strconv.Atoi(strings.TrimSpace(string(out))); err != nil {
			return r, fmt.Errorf("api-pid %s: %q is no pid", sc.killAPI, out)
		}
	}
	lctx, stop := context.WithTimeout(ctx, o.duration)
	defer stop()
	var watch *replicaWatch
	if sc.watchReplicas {
		watch = startReplicaWatch(lctx, o.instances)
	}
	type loadOut struct {
		samples []sample
		ledgers []*ledger
		err     error
	}
	done := make(chan loadOut, 1)
	go func() {
		s, l, err := c.runLoad(lctx, o, users)
		done <- loadOut{s, l, err}
	}()
	var injectErr error
	if sc.faulty() {
		select {
		case <-time.After(o.faultAt):
		case <-ctx.Done():
			return r, ctx.Err()
		}
		r.injectedAt = time.Now()
		if sc.killAPI != "" {
			if injectErr = syscall.Kill(pid, syscall.SIGKILL); injectErr == nil {
				waitGone(o.instances[o.killed-1])
			}
		} else {
			injectErr = faultCmd(ctx, o, sc.inject...)
		}
		r.injectTook = time.Since(r.injectedAt)
	}
	out := <-done
	if injectErr != nil {
		return r, fmt.Errorf("inject %v: %w", sc.inject, injectErr)
	}
	if out.err != nil {
		return r, out.err
	}
	if len(sc.undo) > 0 {
		if err := faultCmd(ctx, o, sc.undo...); err != nil {
			return r, fmt.Errorf("undo %v: %w", sc.undo, err)
		}
	}
	r.samples = out.samples
	r.count(out.samples)
	switch sc.name {
	case "primary-restart":
		r.judgeRestart(out.samples)
	case "standby-stop":
		r.judgeStandby(watch.result(), out.samples)
	case "api-kill":
		r.judgeKill(out.samples)
	default:
		r.goalMet = r.readsFailed+r.writesFailed == 0
	}
	var err error
	r.acked, r.lost, err = verify(ctx, o.databaseURL, out.ledgers)
	for _, l := range out.ledgers {
		r.staleReads += l.staleReads
	}
	if err != nil {
		return r, err
	}
	// The next scenario starts from a healthy deployment: every instance
	// ready, behind the balancer again, seeing the standby.
	return r, waitHealthy(ctx, c, o)
}

// waitGone returns once the instance at base refuses connections, or
// after two seconds. A SIGKILLed process takes a few milliseconds to die
// (its threads exit one by one; the sockets close with the last), and
// until then its listening socket still accepts connections into its
// backlog: requests that are lost with it.
func waitGone(base string) {
	u, err := url.Parse(base)
	if err != nil {
		return
	}
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", u.Host, 50*time.Millisecond)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(200 * time.Microsecond)
	}
}

// faulty says whether sc injects a fault at all.
func (sc scenario) faulty() bool { return len(sc.inject) > 0 || sc.killAPI != "" }

// faultCmd runs -fault-cmd with args, its output on our standard error.
func faultCmd(ctx context.Context, o options, args ...string) error {
	cmd := exec.CommandContext(ctx, o.faultCmd, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

// count tallies reads, writes and failures, and the kinds of failure.
func (r *result) count(samples []sample) {
	for _, s := range samples {
		if s.write {
			r.writes++
		} else {
			r.reads++
		}
		if d := s.end.Sub(s.start); !s.write && d > r.slowest {
			r.slowest = d
		}
		if s.err == nil {
			continue
		}
		if s.write {
			r.writesFailed++
		} else {
			r.readsFailed++
		}
		r.errorKinds[errorKind(s)]++
	}
}

func errorKind(s sample) string {
	kind := "read"
	if s.write {
		kind = "write"
	}
	return kind + ": " + shortError(s.err)
}

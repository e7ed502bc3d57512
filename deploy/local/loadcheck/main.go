// Command loadcheck drives deploy/local/check's load and faults against a
// deployment of deploy/local/up, and prints what it measured as a
// Markdown table:
//
//	AUTH_JWT_SECRET=… loadcheck -api http://127.0.0.1:18080/graphql \
//	    -instances http://127.0.0.1:18081,http://127.0.0.1:18082,http://127.0.0.1:18083 \
//	    -database-url postgres://postgres@127.0.0.1:55432/sets?sslmode=disable \
//	    -fault-cmd deploy/local/fault
//
// Each scenario runs a fresh mixed load through the balancer (readers
// reading the gallery, single sets and themes of users seeded beforehand;
// writers creating and updating sets of their own, each write read back
// at once), injects its fault part-way through with -fault-cmd, undoes it
// afterwards, and then checks in the primary, directly, that every write
// the API acknowledged is there. The scenarios (SPEC §12):
//
//	load             no fault: the baseline
//	primary-restart  pg_ctl restart -m fast of the primary
//	standby-stop     the standby stopped (pg_ctl stop -m immediate), then started again
//	api-kill         one API instance SIGKILLed behind the balancer, then started again
//
// Tokens are signed with AUTH_JWT_SECRET, as the server checks them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// options are loadcheck's flags.
type options struct {
	api         string
	instances   []string
	databaseURL string
	faultCmd    string
	secret      string
	duration    time.Duration
	faultAt     time.Duration
	readers     int
	writers     int
	scenarios   []string
	killed      int // which API instance api-kill kills, 1-based
	samplesFile string
}

func main() {
	var o options
	var instances, scenarios string
	flag.StringVar(&o.api, "api", "http://127.0.0.1:18080/graphql", "the balancer's GraphQL endpoint")
	flag.StringVar(&instances, "instances", "http://127.0.0.1:18081,http://127.0.0.1:18082,http://127.0.0.1:18083",
		"the API instances' own base URLs, for their /metrics")
	flag.StringVar(&o.databaseURL, "database-url", "postgres://postgres@127.0.0.1:55432/sets?sslmode=disable",
		"the primary, directly: where acknowledged writes are looked for")
	flag.StringVar(&o.faultCmd, "fault-cmd", "deploy/local/fault", "the command that injects and undoes faults")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "how long each scenario's load runs")
	flag.DurationVar(&o.faultAt, "fault-at", 5*time.Second, "when into the load the fault is injected")
	flag.IntVar(&o.readers, "readers", 8, "concurrent readers (closed loop)")
	flag.IntVar(&o.writers, "writers", 2, "concurrent writers (closed loop)")
	flag.StringVar(&scenarios, "scenarios", "load,primary-restart,standby-stop,api-kill", "the scenarios to run, in order")
	flag.IntVar(&o.killed, "kill", 2, "the API instance (1-3) that api-kill kills")
	flag.StringVar(&o.samplesFile, "samples", "", "write every request (scenario, kind, start and duration from the fault, error) to this CSV file")
	flag.Parse()
	o.instances = strings.Split(instances, ",")
	o.scenarios = strings.Split(scenarios, ",")
	o.secret = os.Getenv("AUTH_JWT_SECRET")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "loadcheck:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if o.secret == "" {
		return errors.New("AUTH_JWT_SECRET must be the deployment's")
	}
	if o.faultAt >= o.duration {
		return errors.New("-fault-at must be before the end of -duration")
	}
	c := &client{api: o.api, secret: o.secret, http: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	progress("seeding %d readers' users", seedUsers)
	pool, err := c.seed(ctx, seedUsers, setsPerUser)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	var rows []result
	for _, name := range o.scenarios {
		sc, ok := scenarioByName(name, o)
		if !ok {
			return fmt.Errorf("unknown scenario %q", name)
		}
		progress("scenario %s: %s of load, the fault at %s", name, o.duration, o.faultAt)
		r, err := runScenario(ctx, c, o, pool, sc)
		if err != nil {
			return fmt.Errorf("scenario %s: %w", name, err)
		}
		rows = append(rows, r)
		progress("scenario %s: %s", name, r.summary())
	}
	printTable(os.Stdout, o, rows)
	if o.samplesFile != "" {
		if err := writeSamples(o.samplesFile, rows); err != nil {
			return err
		}
	}
	var missed []string
	for _, r := range rows {
		if r.lost > 0 {
			missed = append(missed, fmt.Sprintf("%s: %d acknowledged writes lost", r.name, r.lost))
		}
		if !r.goalMet {
			missed = append(missed, fmt.Sprintf("%s: goal not met (%s): %s", r.name, r.goal, r.goalNote))
		}
	}
	if len(missed) > 0 {
		return errors.New(strings.Join(missed, "; "))
	}
	return nil
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadcheck: "+format+"\n", args...)
}

package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// point is one sample of an instance's read routing.
type point struct {
	at           time.Time
	replicaUp    float64 // sets_db_replica_up; -1 when missing
	replicaReads float64 // sets_db_routed_reads_total{reason="fresh",target="replica"}
}

// instanceSeries is an instance's samples, in time order.
type instanceSeries struct {
	name   string
	points []point
}

// afterStop returns how long after stop the instance first reported the
// replica down, and by when it last routed a read to it (the sample that
// first showed its replica counter no longer moving). A replica never
// seen down counts as the whole series.
func (s instanceSeries) afterStop(stop time.Time) (down, lastRead time.Duration) {
	down = -1
	var prev *point
	for i := range s.points {
		p := &s.points[i]
		if p.at.After(stop) {
			if down < 0 && p.replicaUp == 0 {
				down = p.at.Sub(stop)
			}
			if prev != nil && p.replicaReads > prev.replicaReads {
				lastRead = p.at.Sub(stop)
			}
		}
		prev = p
	}
	if down < 0 && len(s.points) > 0 {
		down = s.points[len(s.points)-1].at.Sub(stop)
	}
	return max(down, 0), lastRead
}

// replicaWatch samples every instance's /metrics every 50 ms until its
// context ends.
type replicaWatch struct {
	wg     sync.WaitGroup
	series []instanceSeries
}

func startReplicaWatch(ctx context.Context, instances []string) *replicaWatch {
	w := &replicaWatch{series: make([]instanceSeries, len(instances))}
	hc := &http.Client{Timeout: 500 * time.Millisecond}
	for i, base := range instances {
		w.series[i].name = base
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			t := time.NewTicker(50 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				if p, err := scrape(ctx, hc, base); err == nil {
					w.series[i].points = append(w.series[i].points, p)
				}
			}
		}()
	}
	return w
}

// result waits for the samplers to end and returns their series.
func (w *replicaWatch) result() []instanceSeries {
	if w == nil {
		return nil
	}
	w.wg.Wait()
	return w.series
}

// scrape reads the routing series from one instance's /metrics.
func scrape(ctx context.Context, hc *http.Client, base string) (point, error) {
	p := point{replicaUp: -1}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return p, err
	}
	res, err := hc.Do(req)
	if err != nil {
		return p, err
	}
	defer res.Body.Close()
	p.at = time.Now()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "sets_db_replica_up{"):
			p.replicaUp = lastFloat(line)
		case strings.HasPrefix(line, `sets_db_routed_reads_total{reason="fresh",target="replica"}`):
			p.replicaReads = lastFloat(line)
		}
	}
	if res.StatusCode != http.StatusOK {
		return p, fmt.Errorf("%s/metrics: HTTP %d", base, res.StatusCode)
	}
	return p, sc.Err()
}

func lastFloat(line string) float64 {
	f, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
	return f
}

// waitHealthy waits until every instance is ready and sees its replica
// up, and a request through the balancer works: the state each scenario
// starts from.
func waitHealthy(ctx context.Context, c *client, o options) error {
	deadline := time.Now().Add(90 * time.Second)
	hc := &http.Client{Timeout: time.Second}
	for {
		err := healthy(ctx, hc, c, o)
		if err == nil {
			// HAProxy marks a server up after two good checks (rise 2,
			// inter 1s): give a restarted instance its place back.
			time.Sleep(3 * time.Second)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the deployment is not healthy again after 90s: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func healthy(ctx context.Context, hc *http.Client, c *client, o options) error {
	for _, base := range o.instances {
		res, err := hc.Get(base + "/readyz")
		if err != nil {
			return err
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("%s/readyz: HTTP %d", base, res.StatusCode)
		}
		p, err := scrape(ctx, hc, base)
		if err != nil {
			return err
		}
		if p.replicaUp != 1 {
			return fmt.Errorf("%s: replica not up", base)
		}
	}
	u, err := c.newUser()
	if err != nil {
		return err
	}
	return c.post(ctx, u, themesQuery, nil, nil)
}

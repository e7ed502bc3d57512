package server

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/brickgallery/sets/graph"
	"github.com/brickgallery/sets/internal/live"
	"github.com/brickgallery/sets/internal/reqid"
	"github.com/brickgallery/sets/internal/store"
)

// metrics are the Prometheus series of SPEC §6. Each server has its own
// registry, so tests can start several in one process.
type metrics struct {
	registry  *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	opNames   sync.Map // operation names already used as labels
	opNamesMu sync.Mutex
	opCount   int
}

// maxOperationLabels bounds the label values clients can create by naming
// their operations: past it, new names count as "other".
const maxOperationLabels = 200

var operationName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

func newMetrics(db *sql.DB, reads func() store.ReadStats) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sets_graphql_requests_total",
			Help: "GraphQL operations by operation name and outcome (ok or the first error code).",
		}, []string{"operation", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sets_graphql_request_duration_seconds",
			Help:    "GraphQL operation latency by operation name.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"operation"}),
	}
	m.registry.MustRegister(m.requests, m.latency,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(db, "sets"))
	m.registry.MustRegister(readMetrics(reads)...)
	return m
}

// readMetrics are the bound on reads' series (store.ReadStats): a read
// waiting behind it holds no connection, so the pool's wait series do not
// see it.
func readMetrics(reads func() store.ReadStats) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sets_db_reads_max_active",
			Help: "Reads allowed to run at once (DB_MAX_ACTIVE_READS).",
		}, func() float64 { return float64(reads().MaxActive) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sets_db_reads_active",
			Help: "Reads running now.",
		}, func() float64 { return float64(reads().Active) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sets_db_reads_waiting",
			Help: "Reads waiting for their turn now.",
		}, func() float64 { return float64(reads().Waiting) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "sets_db_read_waits_total",
			Help: "Reads that have had to wait for their turn.",
		}, func() float64 { return float64(reads().WaitCount) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "sets_db_read_wait_seconds_total",
			Help: "Time reads have spent waiting for their turn.",
		}, func() float64 { return reads().WaitDuration.Seconds() }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "sets_db_retries_total",
			Help: "Statements tried again after meeting an unreachable database (DB_RETRY_WITHIN).",
		}, func() float64 { return float64(reads().Retries) }),
	}
}

// addLive registers the live updates' series.
func (m *metrics) addLive(hub *live.Hub, sockets *graph.Sockets) {
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sets_live_sockets",
			Help: "Subscription sockets open now.",
		}, func() float64 { return float64(sockets.Open()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sets_live_subscriptions",
			Help: "Subscriptions to collectionChanged now.",
		}, func() float64 { return float64(hub.Stats().Subscriptions) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "sets_live_changes_delivered_total",
			Help: "Changes handed to subscriptions by the hub (replays not included).",
		}, func() float64 { return float64(hub.Stats().Delivered) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "sets_live_slow_subscribers_total",
			Help: "Subscriptions disconnected for not keeping up with their changes.",
		}, func() float64 { return float64(hub.Stats().Slow) }),
	)
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// label returns name as a metric label, bounded in shape and number.
func (m *metrics) label(name string) string {
	if name == "" {
		return "anonymous"
	}
	if !operationName.MatchString(name) {
		return "other"
	}
	if _, ok := m.opNames.Load(name); ok {
		return name
	}
	m.opNamesMu.Lock()
	defer m.opNamesMu.Unlock()
	if m.opCount >= maxOperationLabels {
		return "other"
	}
	if _, loaded := m.opNames.LoadOrStore(name, true); !loaded {
		m.opCount++
	}
	return name
}

// requestInfo collects what the GraphQL layer learns about a request for
// its one log line.
type requestInfo struct {
	operation string
	outcome   string
}

type infoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	i, _ := ctx.Value(infoKey{}).(*requestInfo)
	return i
}

// onOperation records a finished GraphQL operation.
func (m *metrics) onOperation(ctx context.Context, name string, errs gqlerror.List, took time.Duration) {
	outcome := "ok"
	if len(errs) > 0 {
		outcome = "error"
		if code, ok := errs[0].Extensions["code"].(string); ok {
			outcome = code
		}
	}
	label := m.label(name)
	m.requests.WithLabelValues(label, outcome).Inc()
	m.latency.WithLabelValues(label).Observe(took.Seconds())
	if info := infoFrom(ctx); info != nil {
		info.operation, info.outcome = name, outcome
	}
}

// statusWriter remembers the status code for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// accessLog writes one line per request: id, method, path, status,
// duration, and for GraphQL the operation name and outcome.
func accessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), infoKey{}, info)))
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		attrs := []any{
			"request_id", reqid.FromContext(r.Context()), "method", r.Method, "path", r.URL.Path,
			"status", status, "duration_ms", float64(time.Since(start).Microseconds()) / 1000,
		}
		if info.outcome != "" {
			attrs = append(attrs, "operation", info.operation, "outcome", info.outcome)
		}
		log.InfoContext(r.Context(), "request", attrs...)
	})
}

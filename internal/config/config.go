// Package config reads the server's configuration from the environment and
// validates it once, at start, so a bad value stops the process with a
// message naming the variable instead of failing later.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults of SPEC §6.
const (
	DefaultDatabaseURL = "postgres://postgres@localhost:5432/sets?sslmode=disable"
	DefaultAddr        = "127.0.0.1:8080"
	// DevJWTSecret signs tokens in development when AUTH_JWT_SECRET is unset.
	// It is public (it is in the source), so production refuses to start
	// without a secret of its own.
	DevJWTSecret = "sets-development-secret-do-not-use-in-production"
)

// Environments.
const (
	EnvDevelopment = "development"
	EnvProduction  = "production"
)

// Config is the whole configuration of the process.
type Config struct {
	DatabaseURL string // DATABASE_URL
	// DatabaseDirectURL (DATABASE_DIRECT_URL, default DATABASE_URL) reaches
	// the primary without a transaction-pooling PgBouncer in between: what
	// needs a session of its own (migrations and their advisory lock,
	// LISTEN for live updates) connects here (SPEC §12).
	DatabaseDirectURL string
	Addr              string // ADDR
	Env               string // APP_ENV: development or production
	JWTSecret         string // AUTH_JWT_SECRET
	// JWTSecretDefaulted is true when development fell back to DevJWTSecret.
	JWTSecretDefaulted bool
	CORSAllowedOrigins []string   // CORS_ALLOWED_ORIGINS, comma-separated
	LogLevel           slog.Level // LOG_LEVEL: debug, info, warn, error
	LogFormat          string     // LOG_FORMAT: text or json
	// GraphiQL and Introspection default to on in development and off in
	// production; GRAPHIQL_ENABLED and INTROSPECTION_ENABLED override.
	GraphiQL      bool
	Introspection bool
	// ComplexityLimit and DepthLimit bound a query before any SQL runs
	// (QUERY_COMPLEXITY_LIMIT, QUERY_DEPTH_LIMIT).
	ComplexityLimit int
	DepthLimit      int
	DBMaxConns      int // DB_MAX_CONNS
	// DBMaxActiveReads (DB_MAX_ACTIVE_READS) bounds the API's read round
	// trips running at once, the rest waiting in arrival order; it defaults
	// to 4 (about twice the database's cores), or DB_MAX_CONNS when that
	// is smaller, and may not exceed it.
	DBMaxActiveReads int
	// DBPrepare (DB_PREPARED_STATEMENTS, default true) lets a few
	// fixed-shape hot reads run as prepared statements; turn it off behind
	// a transaction-pooling PgBouncer older than 1.21.
	DBPrepare bool
	// DBRetryWithin (DB_RETRY_WITHIN, default 5s, 0 for never) bounds how
	// long a read that met an unreachable database (a restart, a broken
	// connection) is tried again, with back-off (SPEC §12).
	DBRetryWithin   time.Duration
	ShutdownTimeout time.Duration // SHUTDOWN_TIMEOUT: how long SIGTERM waits for in-flight requests
	// TrustedDocuments (TRUSTED_DOCUMENTS) is the path of a manifest of the
	// only documents the API runs, for production (SPEC §13). Empty: any
	// document runs. Serving reads and checks the file at start.
	TrustedDocuments string
	// MediaStore (MEDIA_STORE, default file:./media) is where uploaded
	// photos go (SPEC §8): file:DIR or
	// s3://BUCKET[/PREFIX]?endpoint=HOST:PORT&region=R&tls=false.
	MediaStore string
	// MediaMaxBytes (MEDIA_MAX_BYTES, default 20 MiB) bounds an uploaded
	// photo; a multipart body may be 1 MiB more.
	MediaMaxBytes int
	// MediaDecoders (MEDIA_DECODERS, default one per core) bounds the
	// photos decoded at once; further uploads wait.
	MediaDecoders int
	// PublicURL (PUBLIC_URL, default http://ADDR) is where clients reach
	// the server: photo URLs are PublicURL/media/KEY, unless MediaPublicURL
	// (MEDIA_PUBLIC_URL: a CDN, or the bucket) is set: then they are
	// MediaPublicURL/KEY.
	PublicURL      string
	MediaPublicURL string
	// Live updates' limits (SPEC §11): subscriptions per socket
	// (LIVE_MAX_PER_CONNECTION), per user on this instance
	// (LIVE_MAX_PER_USER) and on this instance in all
	// (LIVE_MAX_SUBSCRIPTIONS); LiveQueue (LIVE_QUEUE) changes may wait for
	// one subscriber before it counts as too slow and is disconnected.
	LiveMaxPerConnection, LiveMaxPerUser, LiveMaxSubscriptions, LiveQueue int
	// LivePingInterval (LIVE_PING_INTERVAL, default 20s) is how often each
	// socket is pinged; a client that does not answer within two is closed.
	LivePingInterval time.Duration

	// DatabaseReplicaURLs (DATABASE_REPLICA_URLS, comma-separated) are
	// streaming replicas of the primary for reads, each possibly behind a
	// transaction-pooling PgBouncer (SPEC §12); none by default.
	DatabaseReplicaURLs []string
	// ReplicaMaxLag (REPLICA_MAX_LAG, default 2s) is the replay lag past
	// which a replica gets no reads.
	ReplicaMaxLag time.Duration
}

// MediaURL is the absolute URL of the media file key.
func (c Config) MediaURL(key string) string {
	if c.MediaPublicURL != "" {
		return strings.TrimRight(c.MediaPublicURL, "/") + "/" + key
	}
	return strings.TrimRight(c.PublicURL, "/") + "/media/" + key
}

// DefaultComplexityLimit lets the heaviest real query through and refuses
// one ten times heavier. 100 sets with every field and their images cost
// 8,801 (17,201 asking for both edges and nodes; see graph/complexity.go):
// the limit admits both with some room for a few small fields beside them,
// and stays far below 88,010, ten times the first.
const DefaultComplexityLimit = 20_000

// DefaultMaxActiveReads is DB_MAX_ACTIVE_READS' default: on the 2-core
// machine of bench/HISTORY.md, 4 reads at once kept PostgreSQL as busy
// as 8 did, with half the tail latency.
const DefaultMaxActiveReads = 4

// DefaultDBRetryWithin is DB_RETRY_WITHIN's default, "a few seconds"
// (SPEC §12): a fast restart of a small cluster is back in about one, and
// the user of an interactive app gives up after a few more.
const DefaultDBRetryWithin = 5 * time.Second

// DefaultReplicaMaxLag is REPLICA_MAX_LAG's default (SPEC §12).
const DefaultReplicaMaxLag = 2 * time.Second

// FromEnv builds a Config from getenv and validates it.
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		DatabaseURL:       or(getenv("DATABASE_URL"), DefaultDatabaseURL),
		DatabaseDirectURL: getenv("DATABASE_DIRECT_URL"),
		Addr:              or(getenv("ADDR"), DefaultAddr),
		Env:               or(getenv("APP_ENV"), EnvDevelopment),
		JWTSecret:         getenv("AUTH_JWT_SECRET"),
		LogFormat:         or(getenv("LOG_FORMAT"), "text"),
		TrustedDocuments:  getenv("TRUSTED_DOCUMENTS"),
		MediaStore:        or(getenv("MEDIA_STORE"), "file:./media"),
		MediaMaxBytes:     20 << 20,
		MediaPublicURL:    getenv("MEDIA_PUBLIC_URL"),
		ComplexityLimit:   DefaultComplexityLimit,
		DepthLimit:        15,
		DBMaxConns:        8,
		DBRetryWithin:     DefaultDBRetryWithin,
		ReplicaMaxLag:     DefaultReplicaMaxLag,
		ShutdownTimeout:   15 * time.Second,
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if v := getenv("CORS_ALLOWED_ORIGINS"); v != "" {
		for _, o := range strings.Split(v, ",") {
			if o = strings.TrimSpace(o); o != "" {
				c.CORSAllowedOrigins = append(c.CORSAllowedOrigins, o)
			}
		}
	}
	add(parseLevel(getenv("LOG_LEVEL"), &c.LogLevel))
	dev := c.Env == EnvDevelopment
	add(parseBool("GRAPHIQL_ENABLED", getenv("GRAPHIQL_ENABLED"), dev, &c.GraphiQL))
	add(parseBool("INTROSPECTION_ENABLED", getenv("INTROSPECTION_ENABLED"), dev, &c.Introspection))
	add(parseInt("QUERY_COMPLEXITY_LIMIT", getenv("QUERY_COMPLEXITY_LIMIT"), 1, 1_000_000, &c.ComplexityLimit))
	add(parseInt("QUERY_DEPTH_LIMIT", getenv("QUERY_DEPTH_LIMIT"), 1, 100, &c.DepthLimit))
	add(parseInt("DB_MAX_CONNS", getenv("DB_MAX_CONNS"), 1, 1000, &c.DBMaxConns))
	c.DBMaxActiveReads = min(DefaultMaxActiveReads, c.DBMaxConns)
	add(parseInt("DB_MAX_ACTIVE_READS", getenv("DB_MAX_ACTIVE_READS"), 1, 1000, &c.DBMaxActiveReads))
	add(parseBool("DB_PREPARED_STATEMENTS", getenv("DB_PREPARED_STATEMENTS"), true, &c.DBPrepare))
	add(parseInt("MEDIA_MAX_BYTES", getenv("MEDIA_MAX_BYTES"), 1<<10, 1<<30, &c.MediaMaxBytes))
	add(parseInt("MEDIA_DECODERS", getenv("MEDIA_DECODERS"), 1, 256, &c.MediaDecoders))
	c.PublicURL = or(getenv("PUBLIC_URL"), "http://"+c.Addr)
	add(parseInt("LIVE_MAX_PER_CONNECTION", getenv("LIVE_MAX_PER_CONNECTION"), 1, 1000, &c.LiveMaxPerConnection))
	add(parseInt("LIVE_MAX_PER_USER", getenv("LIVE_MAX_PER_USER"), 1, 100_000, &c.LiveMaxPerUser))
	add(parseInt("LIVE_MAX_SUBSCRIPTIONS", getenv("LIVE_MAX_SUBSCRIPTIONS"), 1, 10_000_000, &c.LiveMaxSubscriptions))
	add(parseInt("LIVE_QUEUE", getenv("LIVE_QUEUE"), 1, 1_000_000, &c.LiveQueue))
	if v := getenv("LIVE_PING_INTERVAL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second || d > 10*time.Minute {
			add(fmt.Errorf("LIVE_PING_INTERVAL: %q is not a duration from 1s to 10m such as 20s", v))
		} else {
			c.LivePingInterval = d
		}
	}
	if v := getenv("DB_RETRY_WITHIN"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > time.Minute {
			add(fmt.Errorf("DB_RETRY_WITHIN: %q is not a duration from 0s to 1m such as 5s", v))
		} else {
			c.DBRetryWithin = d
		}
	}
	for _, u := range strings.Split(getenv("DATABASE_REPLICA_URLS"), ",") {
		if u = strings.TrimSpace(u); u != "" {
			c.DatabaseReplicaURLs = append(c.DatabaseReplicaURLs, u)
		}
	}
	if v := getenv("REPLICA_MAX_LAG"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > time.Hour {
			add(fmt.Errorf("REPLICA_MAX_LAG: %q is not a duration from 1ms to 1h such as 2s", v))
		} else {
			c.ReplicaMaxLag = d
		}
	}
	if v := getenv("SHUTDOWN_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			add(fmt.Errorf("SHUTDOWN_TIMEOUT: %q is not a positive duration such as 15s", v))
		} else {
			c.ShutdownTimeout = d
		}
	}
	c.DatabaseDirectURL = or(c.DatabaseDirectURL, c.DatabaseURL)
	if c.JWTSecret == "" && dev {
		c.JWTSecret, c.JWTSecretDefaulted = DevJWTSecret, true
	}
	add(c.Validate())
	return c, errors.Join(errs...)
}

// Validate checks the values that do not depend on how they were read.
func (c Config) Validate() error {
	var errs []error
	if c.Env != EnvDevelopment && c.Env != EnvProduction {
		errs = append(errs, fmt.Errorf("APP_ENV: %q is not development or production", c.Env))
	}
	if err := validateDatabaseURL(c.DatabaseURL); err != nil {
		errs = append(errs, fmt.Errorf("DATABASE_URL: %w", err))
	}
	if c.DatabaseDirectURL != "" && c.DatabaseDirectURL != c.DatabaseURL {
		if err := validateDatabaseURL(c.DatabaseDirectURL); err != nil {
			errs = append(errs, fmt.Errorf("DATABASE_DIRECT_URL: %w", err))
		}
	}
	for i, u := range c.DatabaseReplicaURLs {
		if err := validateDatabaseURL(u); err != nil {
			errs = append(errs, fmt.Errorf("DATABASE_REPLICA_URLS: replica %d of %d: %w", i+1, len(c.DatabaseReplicaURLs), err))
		}
	}
	if c.ReplicaMaxLag <= 0 {
		errs = append(errs, errors.New("REPLICA_MAX_LAG: must be positive"))
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("ADDR: %q is not host:port", c.Addr))
	}
	switch {
	case c.JWTSecret == "":
		errs = append(errs, errors.New("AUTH_JWT_SECRET: required in production"))
	case c.Env == EnvProduction && c.JWTSecret == DevJWTSecret:
		errs = append(errs, errors.New("AUTH_JWT_SECRET: the development secret is public; set a secret of your own"))
	case c.Env == EnvProduction && len(c.JWTSecret) < 32:
		errs = append(errs, errors.New("AUTH_JWT_SECRET: use at least 32 bytes for HS256 in production"))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("LOG_FORMAT: %q is not text or json", c.LogFormat))
	}
	if c.DBMaxActiveReads > c.DBMaxConns {
		// The extra reads would wait on the pool, in random order.
		errs = append(errs, fmt.Errorf("DB_MAX_ACTIVE_READS: %d is more than DB_MAX_CONNS (%d)", c.DBMaxActiveReads, c.DBMaxConns))
	}
	if (!strings.HasPrefix(c.MediaStore, "file:") || len(c.MediaStore) == len("file:")) && !strings.HasPrefix(c.MediaStore, "s3://") {
		errs = append(errs, fmt.Errorf("MEDIA_STORE: %q is neither file:DIR nor s3://BUCKET[/PREFIX]?endpoint=HOST:PORT", c.MediaStore))
	}
	for name, v := range map[string]string{"PUBLIC_URL": c.PublicURL, "MEDIA_PUBLIC_URL": c.MediaPublicURL} {
		if v == "" && name == "MEDIA_PUBLIC_URL" {
			continue
		}
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s: %q is not an absolute http(s) URL", name, v))
		}
	}
	for _, o := range c.CORSAllowedOrigins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			errs = append(errs, fmt.Errorf("CORS_ALLOWED_ORIGINS: %q is not an origin such as https://app.example.com", o))
		}
	}
	return errors.Join(errs...)
}

func validateDatabaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL")
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return fmt.Errorf("scheme %q is not postgres://", u.Scheme)
	}
	if strings.Trim(u.Path, "/") == "" {
		return errors.New("names no database")
	}
	return nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func parseLevel(v string, dst *slog.Level) error {
	if v == "" {
		*dst = slog.LevelInfo
		return nil
	}
	if err := dst.UnmarshalText([]byte(v)); err != nil {
		return fmt.Errorf("LOG_LEVEL: %q is not debug, info, warn or error", v)
	}
	return nil
}

func parseBool(name, v string, def bool, dst *bool) error {
	if v == "" {
		*dst = def
		return nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("%s: %q is not true or false", name, v)
	}
	*dst = b
	return nil
}

func parseInt(name, v string, lo, hi int, dst *int) error {
	if v == "" {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return fmt.Errorf("%s: %q is not a whole number from %d to %d", name, v, lo, hi)
	}
	*dst = n
	return nil
}

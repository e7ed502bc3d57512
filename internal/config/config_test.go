package config_test

import (
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/brickgallery/sets/internal/config"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	c, err := config.FromEnv(env(nil))
	if err != nil {
		t.Fatalf("FromEnv with no variables: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"DatabaseURL", c.DatabaseURL, "postgres://postgres@localhost:5432/sets?sslmode=disable"},
		{"DatabaseDirectURL", c.DatabaseDirectURL, "postgres://postgres@localhost:5432/sets?sslmode=disable"},
		{"Addr", c.Addr, "127.0.0.1:8080"},
		{"Env", c.Env, config.EnvDevelopment},
		{"JWTSecret", c.JWTSecret, config.DevJWTSecret},
		{"JWTSecretDefaulted", c.JWTSecretDefaulted, true},
		{"GraphiQL", c.GraphiQL, true},
		{"Introspection", c.Introspection, true},
		{"LogLevel", c.LogLevel, slog.LevelInfo},
		{"LogFormat", c.LogFormat, "text"},
		{"ShutdownTimeout", c.ShutdownTimeout, 15 * time.Second},
		{"DBPrepare", c.DBPrepare, true},
		{"DBMaxConns", c.DBMaxConns, 8},
		{"DBMaxActiveReads", c.DBMaxActiveReads, 4},
		{"DBRetryWithin", c.DBRetryWithin, 5 * time.Second},
		{"TrustedDocuments", c.TrustedDocuments, ""},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

// A small pool lowers the default bound on reads with it, since reads
// beyond the pool would only wait on it in random order.
func TestActiveReadsFollowASmallPool(t *testing.T) {
	for _, tt := range []struct {
		env         map[string]string
		conns, want int
	}{
		{map[string]string{"DB_MAX_CONNS": "2"}, 2, 2},
		{map[string]string{"DB_MAX_CONNS": "20"}, 20, 4},
		{map[string]string{"DB_MAX_CONNS": "20", "DB_MAX_ACTIVE_READS": "12"}, 20, 12},
		{map[string]string{"DB_MAX_ACTIVE_READS": "8"}, 8, 8},
	} {
		c, err := config.FromEnv(env(tt.env))
		if err != nil || c.DBMaxConns != tt.conns || c.DBMaxActiveReads != tt.want {
			t.Errorf("%v: DBMaxConns=%d DBMaxActiveReads=%d, %v; want %d and %d",
				tt.env, c.DBMaxConns, c.DBMaxActiveReads, err, tt.conns, tt.want)
		}
	}
}

func TestPreparedStatementsCanBeTurnedOff(t *testing.T) {
	c, err := config.FromEnv(env(map[string]string{"DB_PREPARED_STATEMENTS": "false"}))
	if err != nil || c.DBPrepare {
		t.Errorf("DB_PREPARED_STATEMENTS=false: DBPrepare=%v, %v; want off", c.DBPrepare, err)
	}
}

func TestRetriesCanBeTurnedOff(t *testing.T) {
	c, err := config.FromEnv(env(map[string]string{"DB_RETRY_WITHIN": "0s"}))
	if err != nil || c.DBRetryWithin != 0 {
		t.Errorf("DB_RETRY_WITHIN=0s: DBRetryWithin=%v, %v; want 0", c.DBRetryWithin, err)
	}
}

func TestProductionTurnsDevelopmentAidsOff(t *testing.T) {
	c, err := config.FromEnv(env(map[string]string{
		"APP_ENV": "production", "AUTH_JWT_SECRET": strings.Repeat("s", 32),
		"CORS_ALLOWED_ORIGINS": "https://app.example.com, http://localhost:5173",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.GraphiQL || c.Introspection {
		t.Errorf("production: GraphiQL=%v Introspection=%v, want both off", c.GraphiQL, c.Introspection)
	}
	if got := strings.Join(c.CORSAllowedOrigins, " "); got != "https://app.example.com http://localhost:5173" {
		t.Errorf("CORS origins = %q", got)
	}
	c, err = config.FromEnv(env(map[string]string{
		"APP_ENV": "production", "AUTH_JWT_SECRET": strings.Repeat("s", 32), "INTROSPECTION_ENABLED": "true",
	}))
	if err != nil || !c.Introspection {
		t.Errorf("INTROSPECTION_ENABLED=true in production: %v, %v; want it on", c.Introspection, err)
	}
}

// Every bad value stops the process with a message naming its variable.
func TestBadValuesNameTheirVariable(t *testing.T) {
	prod := map[string]string{"APP_ENV": "production", "AUTH_JWT_SECRET": strings.Repeat("s", 32)}
	tests := []struct {
		variable, value string
		base            map[string]string
	}{
		{"APP_ENV", "staging", nil},
		{"DATABASE_URL", "mysql://localhost/sets", nil},
		{"DATABASE_URL", "postgres://localhost:5432", nil},
		{"ADDR", "8080", nil},
		{"AUTH_JWT_SECRET", "", prod},
		{"AUTH_JWT_SECRET", "short", prod},
		{"AUTH_JWT_SECRET", config.DevJWTSecret, prod},
		{"CORS_ALLOWED_ORIGINS", "app.example.com", nil},
		{"LOG_LEVEL", "loud", nil},
		{"LOG_FORMAT", "xml", nil},
		{"GRAPHIQL_ENABLED", "maybe", nil},
		{"INTROSPECTION_ENABLED", "2", nil},
		{"QUERY_COMPLEXITY_LIMIT", "0", nil},
		{"QUERY_DEPTH_LIMIT", "deep", nil},
		{"DB_MAX_CONNS", "-1", nil},
		{"DB_MAX_ACTIVE_READS", "0", nil},
		{"DB_MAX_ACTIVE_READS", "9", nil}, // more than DB_MAX_CONNS' 8
		{"DB_PREPARED_STATEMENTS", "nope", nil},
		{"SHUTDOWN_TIMEOUT", "soon", nil},
		{"DB_RETRY_WITHIN", "-1s", nil},
		{"DB_RETRY_WITHIN", "1h", nil},
		{"DATABASE_REPLICA_URLS", "postgres://r1:5432/sets,mysql://r2/sets", nil},
		{"DATABASE_REPLICA_URLS", "postgres://r1:5432", nil},
		{"REPLICA_MAX_LAG", "0s", nil},
		{"REPLICA_MAX_LAG", "fresh", nil},
	}
	for _, tt := range tests {
		t.Run(tt.variable+"="+tt.value, func(t *testing.T) {
			m := map[string]string{}
			for k, v := range tt.base {
				m[k] = v
			}
			m[tt.variable] = tt.value
			_, err := config.FromEnv(env(m))
			if err == nil || !strings.Contains(err.Error(), tt.variable+":") {
				t.Errorf("FromEnv(%s=%q) error = %v, want one naming %s", tt.variable, tt.value, err, tt.variable)
			}
		})
	}
}

func TestMediaURLs(t *testing.T) {
	c, err := config.FromEnv(env(map[string]string{"ADDR": "127.0.0.1:9000"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.MediaURL("abc.jpg"); got != "http://127.0.0.1:9000/media/abc.jpg" {
		t.Errorf("default: %s, want http://ADDR/media/KEY", got)
	}
	c, err = config.FromEnv(env(map[string]string{"PUBLIC_URL": "https://api.example.com/", "MEDIA_PUBLIC_URL": "https://cdn.example.com/p/"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.MediaURL("abc.jpg"); got != "https://cdn.example.com/p/abc.jpg" {
		t.Errorf("with MEDIA_PUBLIC_URL: %s", got)
	}
	for _, bad := range []map[string]string{{"PUBLIC_URL": "api.example.com"}, {"MEDIA_PUBLIC_URL": "ftp://x"},
		{"MEDIA_STORE": "/var/media"}, {"MEDIA_MAX_BYTES": "10"}} {
		if _, err := config.FromEnv(env(bad)); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// DATABASE_DIRECT_URL follows DATABASE_URL unless set, and is checked like it.
func TestDirectURL(t *testing.T) {
	c, err := config.FromEnv(env(map[string]string{"DATABASE_URL": "postgres://u@bouncer:6432/sets"}))
	if err != nil || c.DatabaseDirectURL != "postgres://u@bouncer:6432/sets" {
		t.Fatalf("DatabaseDirectURL = %q, %v; want DATABASE_URL's", c.DatabaseDirectURL, err)
	}
	c, err = config.FromEnv(env(map[string]string{"DATABASE_URL": "postgres://u@bouncer:6432/sets",
		"DATABASE_DIRECT_URL": "postgres://u@primary:5432/sets"}))
	if err != nil || c.DatabaseDirectURL != "postgres://u@primary:5432/sets" {
		t.Fatalf("DatabaseDirectURL = %q, %v; want the variable's", c.DatabaseDirectURL, err)
	}
	_, err = config.FromEnv(env(map[string]string{"DATABASE_DIRECT_URL": "mysql://primary/sets"}))
	if err == nil || !strings.Contains(err.Error(), "DATABASE_DIRECT_URL") {
		t.Fatalf("a mysql:// DATABASE_DIRECT_URL: err = %v, want one naming the variable", err)
	}
}

// DATABASE_REPLICA_URLS is a comma-separated list (none by default), and
// REPLICA_MAX_LAG defaults to 2s.
func TestReplicas(t *testing.T) {
	c, err := config.FromEnv(env(nil))
	if err != nil || len(c.DatabaseReplicaURLs) != 0 || c.ReplicaMaxLag != 2*time.Second {
		t.Fatalf("defaults: replicas %q, max lag %v, %v; want none and 2s", c.DatabaseReplicaURLs, c.ReplicaMaxLag, err)
	}
	c, err = config.FromEnv(env(map[string]string{
		"DATABASE_REPLICA_URLS": " postgres://u@r1:6432/sets, ,postgres://u@r2:6432/sets",
		"REPLICA_MAX_LAG":       "500ms"}))
	want := []string{"postgres://u@r1:6432/sets", "postgres://u@r2:6432/sets"}
	if err != nil || !slices.Equal(c.DatabaseReplicaURLs, want) || c.ReplicaMaxLag != 500*time.Millisecond {
		t.Errorf("replicas %q, max lag %v, %v; want %q and 500ms", c.DatabaseReplicaURLs, c.ReplicaMaxLag, err, want)
	}
}

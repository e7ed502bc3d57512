package postgres_test

import (
	"maps"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/brickgallery/sets/internal/postgres"
	"github.com/brickgallery/sets/internal/testdb"
)

// TestOpenPinsUTC checks that every connection runs in UTC whatever the URL
// asks for: the timestamp columns have no zone, so a session in another zone
// would write now() defaults hours away from the UTC values the API writes.
func TestOpenPinsUTC(t *testing.T) {
	t.Parallel()
	base := testdb.URL(t)
	tests := []struct {
		name, param, value string
		direct             bool
	}{
		{"no time zone in the url", "", "", false},
		{"timezone parameter", "timezone", "Pacific/Auckland", false},
		{"TimeZone parameter", "TimeZone", "America/Los_Angeles", false},
		// PgBouncer 1.18 refuses an options startup parameter outright
		// (unless told to ignore it, and then it is lost): a URL with one
		// can only be the direct one.
		{"options parameter", "options", "-c TimeZone=Asia/Tokyo", true},
		{"upper-case parameter", "TIMEZONE", "Europe/Berlin", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dbURL := base
			if tt.direct {
				dbURL = testdb.Direct(base)
			}
			u, err := url.Parse(dbURL)
			if err != nil {
				t.Fatal(err)
			}
			if tt.param != "" {
				q := u.Query()
				q.Set(tt.param, tt.value)
				// libpq reads "+" literally: spaces must be %20.
				u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
			}
			// Deterministic half: the server applies whichever time zone
			// comes last in the startup packet, and pgx sends its runtime
			// parameters in map order, so only one may be sent.
			cfg, err := postgres.ParseConfig(u.String())
			if err != nil {
				t.Fatal(err)
			}
			zones := map[string]string{}
			for k, v := range cfg.RuntimeParams {
				if strings.EqualFold(k, "timezone") {
					zones[k] = v
				}
			}
			if want := map[string]string{"timezone": "UTC"}; !maps.Equal(zones, want) {
				t.Errorf("time zone parameters sent: got %v, want %v", zones, want)
			}

			db, err := postgres.Open(u.String(), postgres.PoolConfig{MaxConns: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()

			var zone string
			var now time.Time
			if err := db.QueryRowContext(t.Context(), "SELECT current_setting('TimeZone'), now()::timestamp").Scan(&zone, &now); err != nil {
				t.Fatal(err)
			}
			if zone != "UTC" {
				t.Errorf("session time zone: got %s, want UTC", zone)
			}
			if d := time.Since(now); d < -time.Minute || d > time.Minute {
				t.Errorf("now()::timestamp = %v, %v away from UTC now; want the UTC wall time", now, d)
			}
		})
	}
}

package postgres

import (
	"testing"
	"time"
)

// TestLagOf: a replica's lag is the time since the primary was first seen
// past its replay position, zero once it has caught up with the last
// sample, and unknown while the samples cannot tell.
func TestLagOf(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	sample := func(ms int, lsn int64) walSample {
		return walSample{sent: at(ms - 1), received: at(ms), lsn: lsn}
	}
	history := []walSample{sample(0, 100), sample(250, 100), sample(500, 200), sample(750, 300), sample(1000, 300)}
	const maxLag = 2 * time.Second
	tests := []struct {
		name      string
		samples   []walSample
		since     time.Time
		replay    int64
		now       time.Time
		wantLag   time.Duration
		wantKnown bool
	}{
		{"no samples yet", nil, t0, 100, at(100), 0, false},
		{"caught up with the last sample", history, t0, 300, at(1100), 0, true},
		{"idle primary, nothing to replay", history[:2], t0, 100, at(300), 0, true},
		{"behind since the primary passed 200", history, t0, 200, at(1100), 350 * time.Millisecond, true},
		{"behind since the primary passed 100", history, t0, 150, at(1100), 600 * time.Millisecond, true},
		{"behind every sample, sampling just began", history[2:], at(499), 150, at(1100), 600 * time.Millisecond, false},
		{"behind every sample, sampling long running", history[2:], at(-5000), 150, at(1100), 601 * time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lag, known := lagOf(tt.samples, tt.since, tt.replay, tt.now, maxLag)
			if lag != tt.wantLag || known != tt.wantKnown {
				t.Errorf("lagOf = %v, %v; want %v, %v", lag, known, tt.wantLag, tt.wantKnown)
			}
		})
	}
}

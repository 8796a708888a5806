package tasks

import (
	"testing"
	"time"
)

// A config is checked for the relations between its fields.
func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{}, true},
		{"a pause within the lease", Config{Pause: 100 * time.Millisecond, Lease: 2 * time.Second}, true},
		{"a pause as long as the lease", Config{Pause: 30 * time.Second}, false},
		{"a negative chunk", Config{Chunk: -1}, false},
		{"a negative poll", Config{Poll: -time.Second}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			err := cfg.validate()
			if (err == nil) != tc.ok {
				t.Fatalf("validate: %v, want ok %v", err, tc.ok)
			}
			if err == nil && (cfg.Chunk != 500 && tc.cfg.Chunk == 0 || cfg.Lease == 0 || cfg.Poll == 0 || cfg.Wake == nil || cfg.Clock == nil || cfg.Logger == nil) {
				t.Fatalf("defaults not filled in: %+v", cfg)
			}
		})
	}
}

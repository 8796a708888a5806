package delivery

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	schedule := []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute}
	tests := []struct {
		n    int
		r    float64
		want time.Duration
	}{
		{1, 0.5, 5 * time.Second},
		{1, 0, 4 * time.Second},                   // -20%
		{1, 0.999999, 5999998 * time.Microsecond}, // just under +20%
		{2, 0.5, 5 * time.Minute},
		{3, 0.5, 30 * time.Minute},
		{9, 0.5, 30 * time.Minute}, // past the end: the last wait
		{0, 0.5, 5 * time.Second},
	}
	for _, tt := range tests {
		got := Backoff(schedule, tt.n, tt.r)
		if d := got - tt.want; d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("Backoff(n=%d, r=%v) = %v, want %v", tt.n, tt.r, got, tt.want)
		}
	}
	// Jitter stays within ±20% for any random draw.
	for i := 0; i < 10000; i++ {
		got := Backoff(schedule, 2, jitterRand())
		if got < 4*time.Minute || got > 6*time.Minute {
			t.Fatalf("Backoff = %v outside ±20%% of 5m", got)
		}
	}
	if Backoff(nil, 1, 0.5) != 0 {
		t.Fatal("empty schedule")
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		v    string
		want time.Duration
	}{
		{"", 0},
		{"30", 30 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"0", 0},
		{"-5", 0},
		{"999999", time.Hour},
		{"Thu, 01 Jan 2026 12:10:00 GMT", 10 * time.Minute},
		{"Thu, 01 Jan 2026 11:00:00 GMT", 0},
		{"Fri, 02 Jan 2026 12:00:00 GMT", time.Hour},
		{"soon", 0},
	}
	for _, tt := range tests {
		if got := RetryAfter(tt.v, now); got != tt.want {
			t.Errorf("RetryAfter(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

package hookd

import (
	"testing"
	"time"
)

func TestLatencyQuantile(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		bins map[int]int
		q    float64
		want time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one bin, median", map[int]int{0: 10}, 0.5, 2500 * time.Microsecond},
		{"one bin, top", map[int]int{0: 10}, 1, 5 * ms},
		{"second bin", map[int]int{0: 5, 1: 5}, 0.9, 9 * ms},
		{"skips empty bins", map[int]int{0: 1, 4: 1}, 1, 100 * ms},
		{"p50 of two bins", map[int]int{2: 50, 8: 50}, 0.5, 25 * ms},
		{"p99 of two bins", map[int]int{2: 50, 8: 50}, 0.99, 2470 * ms},
		{"open bin ends at the longest timeout", map[int]int{12: 2}, 1, MaxTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h LatencyHistogram
			for i, c := range tt.bins {
				h[i] = c
			}
			if got := h.Quantile(tt.q); got != tt.want {
				t.Errorf("Quantile(%v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
	if len(LatencyHistogram{}) != len(LatencyBounds)+1 {
		t.Fatal("LatencyHistogram needs one bin per bound plus the open one")
	}
}

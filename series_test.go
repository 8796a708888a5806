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
		{"one bin, median", map[int]int{2: 10}, 0.5, 3750 * time.Microsecond},
		{"one bin, top", map[int]int{2: 10}, 1, 5 * ms},
		{"first bin starts at 0", map[int]int{0: 10}, 0.5, 500 * time.Microsecond},
		{"second of two bins", map[int]int{2: 5, 3: 5}, 0.9, 9 * ms},
		{"skips empty bins", map[int]int{2: 1, 6: 1}, 1, 100 * ms},
		{"p50 of two bins", map[int]int{4: 50, 10: 50}, 0.5, 25 * ms},
		{"p99 of two bins", map[int]int{4: 50, 10: 50}, 0.99, 2470 * ms},
		{"open bin ends at the longest timeout", map[int]int{14: 2}, 1, MaxTimeout},
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

func TestLatencyBin(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want int
	}{{0, 0}, {999 * time.Microsecond, 0}, {time.Millisecond, 1}, {7 * time.Millisecond, 3}, {700 * time.Millisecond, 9}, {time.Minute, 14}} {
		if got := LatencyBin(tt.d); got != tt.want {
			t.Errorf("LatencyBin(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
}

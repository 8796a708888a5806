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
				h.Observe(i, c, 0) // no sums: times spread over the bin
			}
			if got := h.Quantile(tt.q); got != tt.want {
				t.Errorf("Quantile(%v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
	if len(LatencyHistogram{}.Counts) != len(LatencyBounds)+1 {
		t.Fatal("LatencyHistogram needs one bin per bound plus the open one")
	}
}

// Percentiles are placed by each bin's mean: an endpoint whose every
// answer took 2.5 s has p50, p95 and p99 of 2.5 s (they read 3.75, 4.88
// and 4.98 s from the bin alone); times that spread over their bin still
// spread; the mean never puts a percentile outside its bin.
func TestLatencyQuantileUsesBinMeans(t *testing.T) {
	observe := func(times ...time.Duration) *LatencyHistogram {
		h := &LatencyHistogram{}
		for _, d := range times {
			h.Observe(LatencyBin(d), 1, d)
		}
		return h
	}
	var same []time.Duration
	for range 100 {
		same = append(same, 2500*time.Millisecond)
	}
	all := observe(same...)
	for _, q := range []float64{0.5, 0.95, 0.99} {
		if got := all.Quantile(q); got != 2500*time.Millisecond {
			t.Errorf("every answer 2.5 s: p%v = %v, want 2.5s", q*100, got)
		}
	}
	var spread []time.Duration
	for i := range 100 {
		spread = append(spread, 100*time.Millisecond+time.Duration(i)*1500*time.Microsecond) // 100–248.5 ms, one bin
	}
	if got := observe(spread...).Quantile(0.5); got < 160*time.Millisecond || got > 190*time.Millisecond {
		t.Errorf("times spread over 100–250 ms: p50 = %v, want about 175ms", got)
	}
	lopsided := observe(1001*time.Millisecond, 1001*time.Millisecond, 2400*time.Millisecond) // one bin, 1–2.5 s
	for _, q := range []float64{0.01, 0.5, 1} {
		if got := lopsided.Quantile(q); got < time.Second || got > 2500*time.Millisecond {
			t.Errorf("p%v = %v: outside its bin", q*100, got)
		}
	}
	if got := lopsided.Quantile(0.5); got >= observe(1001*time.Millisecond, 2400*time.Millisecond, 2400*time.Millisecond).Quantile(0.5) {
		t.Errorf("a bin weighted to its low end reads a median of %v, no lower than one weighted high", got)
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

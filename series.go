package hookd

import "time"

// SeriesQuery asks for statistics over time: Buckets consecutive periods of
// Step from Since.
type SeriesQuery struct {
	TenantID  string
	WebhookID string // "" for the whole tenant
	Since     time.Time
	Step      time.Duration
	Buckets   int
}

// Until is the end of the last bucket.
func (q SeriesQuery) Until() time.Time { return q.Since.Add(time.Duration(q.Buckets) * q.Step) }

// SeriesBucket is one period of a series.
type SeriesBucket struct {
	Start time.Time
	// ByStatus counts the deliveries created in the period by their status now.
	ByStatus map[DeliveryStatus]int
	// Attempts started in the period, and those of them that got a 2xx.
	Attempts  int
	Successes int
	// Latency holds the response times of the attempts that got an answer.
	Latency LatencyHistogram
}

// LatencyBounds are the upper bounds of a LatencyHistogram's bins; the last
// bin holds everything slower. Fixed bins let a store count response times
// with GROUP BY instead of sending every attempt to hookd, so a week of
// statistics costs one row per bin and period.
var LatencyBounds = []time.Duration{
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond, time.Second,
	2500 * time.Millisecond, 5 * time.Second, 10 * time.Second, 30 * time.Second,
}

// LatencyHistogram counts response times per bin of LatencyBounds, and
// adds them up per bin: a bin's mean places its quantiles inside it, so
// that an endpoint whose every answer took 2.5 s reads 2.5 s, not the
// middle of its bin.
type LatencyHistogram struct {
	Counts [15]int
	Sums   [15]time.Duration
}

// Observe adds n response times that add up to sum to bin.
func (h *LatencyHistogram) Observe(bin, n int, sum time.Duration) {
	if bin >= 0 && bin < len(h.Counts) {
		h.Counts[bin] += n
		h.Sums[bin] += sum
	}
}

// LatencyBin is the bin of LatencyBounds that d falls in.
func LatencyBin(d time.Duration) int {
	for i, b := range LatencyBounds {
		if d < b {
			return i
		}
	}
	return len(LatencyBounds)
}

// Count is how many response times the histogram holds.
func (h *LatencyHistogram) Count() int {
	n := 0
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// Add merges o into h.
func (h *LatencyHistogram) Add(o *LatencyHistogram) {
	for i := range o.Counts {
		h.Counts[i] += o.Counts[i]
		h.Sums[i] += o.Sums[i]
	}
}

// Quantile estimates the q-quantile (0–1) by linear interpolation inside
// its bin, over the widest span centred on the bin's mean that fits in
// it: exact when the bin's times are all equal, never outside the bin,
// and the whole bin when its times spread evenly. 0 when empty.
func (h *LatencyHistogram) Quantile(q float64) time.Duration {
	n := h.Count()
	if n == 0 {
		return 0
	}
	rank := q * float64(n)
	seen := 0.0
	for i, c := range h.Counts {
		if c == 0 {
			continue
		}
		if seen+float64(c) >= rank {
			lo, hi := binRange(i)
			if mean := h.Sums[i] / time.Duration(c); mean >= lo && mean <= hi && h.Sums[i] > 0 {
				half := min(mean-lo, hi-mean)
				lo, hi = mean-half, mean+half
			}
			frac := (rank - seen) / float64(c)
			return lo + time.Duration(frac*float64(hi-lo))
		}
		seen += float64(c)
	}
	_, hi := binRange(len(h.Counts) - 1)
	return hi
}

// binRange is bin i's lower and upper bound; the open last bin is taken to
// end at the longest timeout.
func binRange(i int) (lo, hi time.Duration) {
	if i > 0 {
		lo = LatencyBounds[i-1]
	}
	if i < len(LatencyBounds) {
		return lo, LatencyBounds[i]
	}
	return lo, MaxTimeout
}

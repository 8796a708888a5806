package hookd

import (
	"testing"
	"time"
)

func TestRateBudget(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	ms := time.Millisecond
	for _, tc := range []struct {
		name      string
		perSecond int
		tat, now  time.Time
		wantN     int
		wantWait  time.Duration
	}{
		{"idle, burst of a tenth of a second", 100, time.Time{}, t0, 10, 0},
		{"idle, small rates burst one", 5, time.Time{}, t0, 1, 0},
		{"tat in the past is forgotten", 100, t0.Add(-time.Hour), t0, 10, 0},
		{"burst spent", 100, t0.Add(100 * ms), t0, 0, 10 * ms},
		{"partly spent", 100, t0.Add(50 * ms), t0, 5, 0},
		{"one just short", 5, t0.Add(200 * ms), t0.Add(50 * ms), 0, 150 * ms},
		{"refilled with time", 5, t0.Add(200 * ms), t0.Add(200 * ms), 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, wait := RateAvailable(tc.tat, tc.now, tc.perSecond)
			if n != tc.wantN || wait != tc.wantWait {
				t.Fatalf("RateAvailable = %d, %v; want %d, %v", n, wait, tc.wantN, tc.wantWait)
			}
		})
	}
}

// Spending whatever is available whenever asked never exceeds the rate
// plus the burst, however often the budget is asked, and reaches the rate
// when asked at least as often as a burst lasts.
func TestRateBudgetOverTime(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	for _, perSecond := range []int{1, 5, 100, 1000} {
		for _, every := range []time.Duration{time.Millisecond, 7 * time.Millisecond, 50 * time.Millisecond, 300 * time.Millisecond} {
			var tat time.Time
			total := 0
			for now := t0; now.Before(t0.Add(10 * time.Second)); now = now.Add(every) {
				n, _ := RateAvailable(tat, now, perSecond)
				if n > 0 {
					tat, _ = RateTake(tat, now, perSecond, n)
					total += n
				}
			}
			max := 10*perSecond + RateBurst(perSecond)
			// Asked less often than the burst lasts, the unasked time is
			// lost; asked at least that often, the full rate is reached.
			min := 0
			if window := time.Second * time.Duration(RateBurst(perSecond)) / time.Duration(perSecond); every <= window {
				min = 10*perSecond - perSecond*int(every/time.Millisecond)/1000 - 1
			}
			if total > max || total < min {
				t.Errorf("%d/s asked every %v: %d sends in 10s, want %d..%d", perSecond, every, total, min, max)
			}
		}
	}
	tat, wait := RateTake(time.Time{}, t0, 5, 1)
	if !tat.Equal(t0.Add(200*time.Millisecond)) || wait != 200*time.Millisecond {
		t.Fatalf("RateTake = %v, %v", tat, wait)
	}
	if n, _ := RateAvailable(time.Time{}, t0, 0); n <= 1<<30 {
		t.Fatalf("no limit must mean no limit, got %d", n)
	}
}

package delivery

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Jitter varies each wait by at most this fraction either way, so that the
// retries of many deliveries that failed together do not arrive together.
const Jitter = 0.2

// MaxRetryAfter caps how far a receiver's Retry-After can push a retry.
const MaxRetryAfter = time.Hour

// Backoff returns the wait after attempt number n (1-based) failed: the
// schedule's n-th wait (its last one past its end), varied by up to ±20%.
// r is a uniform random number in [0, 1).
func Backoff(schedule []time.Duration, n int, r float64) time.Duration {
	if len(schedule) == 0 {
		return 0
	}
	i := min(max(n-1, 0), len(schedule)-1)
	base := schedule[i]
	return time.Duration(float64(base) * (1 + Jitter*(2*r-1)))
}

// RetryAfter reads a Retry-After header (seconds or an HTTP date) as a wait
// from now, capped at MaxRetryAfter; 0 when absent or unreadable.
func RetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), MaxRetryAfter)
}

func jitterRand() float64 { return rand.Float64() }

package hookd

import (
	"fmt"
	"strings"
	"time"
)

// DefaultRetrySchedule is the wait before attempt 2, 3, …: the backoff that
// the Standard Webhooks guidance recommends, spread over about a day, so a
// receiver that is down for a deploy or an outage still gets its events.
// Its length + 1 (8) is a webhook's default maxAttempts.
var DefaultRetrySchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// ParseRetrySchedule reads a comma-separated list of Go durations, as given
// to --retry-schedule; its errors are for the caller to prefix with the
// flag's name.
func ParseRetrySchedule(s string) ([]time.Duration, error) {
	var out []time.Duration
	// A trailing comma (a list built in a shell loop) is no entry.
	list := strings.TrimSuffix(strings.TrimSpace(s), ",")
	if strings.TrimSpace(list) == "" {
		return nil, fmt.Errorf("no durations in %q", s)
	}
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			// "1s,,2s" is more likely a wait lost in typing than one meant.
			return nil, fmt.Errorf("%q has an empty entry", s)
		}
		d, err := time.ParseDuration(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a duration (use Go durations such as 5s, 10m, 2h)", f)
		}
		if d < 0 {
			return nil, fmt.Errorf("%q is negative", f)
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no durations in %q", s)
	}
	if len(out)+1 > MaxMaxAttempts {
		return nil, fmt.Errorf("at most %d waits (maxAttempts is at most %d)", MaxMaxAttempts-1, MaxMaxAttempts)
	}
	return out, nil
}

package metrics

import (
	"testing"
	"time"
)

func TestSamplePause(t *testing.T) {
	for _, tt := range []struct{ took, want time.Duration }{
		{time.Millisecond, 2 * time.Second},
		{100 * time.Millisecond, 2 * time.Second},
		{101 * time.Millisecond, 2020 * time.Millisecond},
		{time.Second, 20 * time.Second},
		{10 * time.Second, time.Minute},
	} {
		if got := samplePause(2*time.Second, tt.took); got != tt.want {
			t.Errorf("samplePause(2s, %s) = %s, want %s", tt.took, got, tt.want)
		}
	}
}

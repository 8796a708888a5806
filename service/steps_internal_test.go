package service

import (
	"fmt"
	"testing"
	"time"
)

// A slow step halves the next one's limit, down to 1; quick steps double
// it back, never past Config.DeleteStep.
func TestDeleteStepsPace(t *testing.T) {
	now := time.Unix(0, 0)
	stepClock = func() time.Time { return now }
	t.Cleanup(func() { stepClock = time.Now })
	s := New(Config{DeleteStep: 8})
	took := []time.Duration{time.Second, time.Second, time.Second, time.Second, time.Millisecond, time.Millisecond, time.Millisecond, time.Millisecond, time.Millisecond}
	var limits []int
	err := s.deleteInSteps(func(limit int) (int, error) {
		limits = append(limits, limit)
		if len(limits) > len(took) {
			return 0, nil
		}
		now = now.Add(took[len(limits)-1])
		return limit, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(limits); got != "[8 4 2 1 1 2 4 8 8 8]" {
		t.Fatalf("limits %s", got)
	}
}

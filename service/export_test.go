package service

import (
	"testing"
	"time"
)

// StillStepClock stops the clock that times delete steps for t, so that
// no step seems slow and the step size stays as configured (under -race on
// a loaded machine a step took over 50 ms and halved it).
func StillStepClock(t *testing.T) {
	now := time.Now()
	stepClock = func() time.Time { return now }
	t.Cleanup(func() { stepClock = time.Now })
}

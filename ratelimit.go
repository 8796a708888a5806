package hookd

import "time"

// A webhook's rateLimit is one budget shared by every process that
// delivers, kept in the store and spent when deliveries are claimed. It is a
// GCRA (generic cell rate algorithm): the budget is one time, the
// "theoretical arrival time" (TAT) of the next send, so a store keeps a
// single value per webhook and updates it inside the claim's transaction.
//
// Sends are spaced 1/rate apart on average; an idle webhook may start a
// burst of RateBurst(rate) at once, so that claims made every few
// milliseconds can keep up with the rate. Over any one second a receiver
// sees at most rate + RateBurst(rate) requests.

// RateBurst is how many sends an idle rate-limited webhook may start at
// once: a tenth of a second's worth, at least one.
func RateBurst(perSecond int) int { return max(1, perSecond/10) }

// rateStep is the spacing of sends, and the slack: how far the TAT may run
// ahead of now (the burst).
func rateStep(perSecond int) (step, slack time.Duration) {
	step = time.Second / time.Duration(perSecond)
	return step, step * time.Duration(RateBurst(perSecond))
}

// RateAvailable is how many sends a webhook limited to perSecond may start
// at now, given its stored TAT (zero for a webhook that never sent), and,
// when none may, how long until one may.
func RateAvailable(tat, now time.Time, perSecond int) (n int, wait time.Duration) {
	if perSecond <= 0 {
		return int(^uint(0) >> 1), 0
	}
	step, slack := rateStep(perSecond)
	base := tat
	if base.Before(now) {
		base = now
	}
	room := now.Add(slack).Sub(base)
	if room >= step {
		return int(room / step), 0
	}
	return 0, step - room
}

// RateTake spends n sends of the budget at now and returns the new TAT,
// and how long until the next send after them may start.
func RateTake(tat, now time.Time, perSecond, n int) (time.Time, time.Duration) {
	step, slack := rateStep(perSecond)
	if tat.Before(now) {
		tat = now
	}
	tat = tat.Add(step * time.Duration(n))
	wait := tat.Add(step - slack).Sub(now)
	return tat, max(wait, 0)
}

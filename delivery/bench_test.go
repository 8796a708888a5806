package delivery

import (
	"testing"

	"github.com/hookd/hookd"
)

func BenchmarkSignStandard(b *testing.B) {
	key, _ := hookd.StandardKey(hookd.GenerateSecret(hookd.SchemeStandard))
	body := make([]byte, 1024)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		SignStandard(key, "evt_01m81st0erhdyf8wz8cmwabx7h", 1700000000, body)
	}
}

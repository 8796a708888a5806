package loadgen

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ProcCPU is a process's user + system CPU time, from /proc.
func ProcCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces) start at ")".
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clkTck
}

// CommandCPU is the user + system CPU time of every process named comm
// (/proc/PID/comm) running now: PostgreSQL's postmaster and backends, for
// the CPU a row costs the database on the same machine. A process that
// ended between two readings takes its time with it, so compare readings
// of long-lived processes (a connection pool's backends) only.
func CommandCPU(comm string) time.Duration {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var total time.Duration
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil && strings.TrimSpace(string(b)) == comm {
			total += ProcCPU(pid)
		}
	}
	return total
}

// ProcIO is what a process has written, from /proc/PID/io: calls of the
// write family (write, pwrite, writev: files and sockets alike) and bytes
// sent to the storage layer (the WAL's and the database's pages, counted as
// the kernel takes them, fsync or not).
type ProcIO struct {
	WriteCalls int64
	DiskBytes  int64
}

// ReadProcIO reads a process's ProcIO; zero when /proc does not say.
func ReadProcIO(pid int) ProcIO {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return ProcIO{}
	}
	var io ProcIO
	for line := range strings.Lines(string(b)) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ": ")
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "syscw":
			io.WriteCalls = n
		case "write_bytes":
			io.DiskBytes = n
		}
	}
	return io
}

// ProcPeakRSS is a process's peak resident set (VmHWM), in bytes.
func ProcPeakRSS(pid int) int64 { return procStatus(pid, "VmHWM:") }

// ProcRSS is a process's resident set now (VmRSS), in bytes.
func ProcRSS(pid int) int64 { return procStatus(pid, "VmRSS:") }

// procStatus reads a kB field of /proc/PID/status, in bytes.
func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

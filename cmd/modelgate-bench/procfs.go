package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicksPerSecond is USER_HZ, the unit of the CPU times in
// /proc/PID/stat. Linux reports them in USER_HZ, which is 100 on every
// architecture that Go supports.
const clockTicksPerSecond = 100

// procStat is the CPU time a process has used, from /proc/PID/stat.
type procStat struct {
	User   time.Duration
	System time.Duration
}

// CPU returns the user and system time together.
func (s procStat) CPU() time.Duration { return s.User + s.System }

// parseProcStat reads utime and stime, fields 14 and 15 of a
// /proc/PID/stat line. The command name in field 2 is in parentheses and
// may contain spaces and parentheses, so fields are counted from the
// last ')'.
func parseProcStat(line []byte) (procStat, error) {
	end := bytes.LastIndexByte(line, ')')
	if end < 0 {
		return procStat{}, fmt.Errorf("stat line %q has no command name",
			truncateText(string(line), 64))
	}
	// After the name come field 3 (state) onwards, so utime, field 14,
	// is the 12th of them.
	fields := strings.Fields(string(line[end+1:]))
	if len(fields) < 13 {
		return procStat{}, fmt.Errorf("stat line has %d fields after the "+
			"command name, want at least 13", len(fields))
	}
	utime, err := strconv.ParseUint(fields[11], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("utime %q: %w", fields[11], err)
	}
	stime, err := strconv.ParseUint(fields[12], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("stime %q: %w", fields[12], err)
	}
	return procStat{
		User:   ticksToDuration(utime),
		System: ticksToDuration(stime),
	}, nil
}

func ticksToDuration(ticks uint64) time.Duration {
	return time.Duration(ticks) * time.Second / clockTicksPerSecond
}

// readProcStat returns the CPU time used so far by process pid.
func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(b)
}

// procMemory is the resident set size of a process, from
// /proc/PID/status.
type procMemory struct {
	// RSS is VmRSS, the resident set size now, in bytes.
	RSS int64

	// HWM is VmHWM, the peak resident set size, in bytes.
	HWM int64
}

// parseProcStatus reads VmRSS and VmHWM from the contents of
// /proc/PID/status, where they are given in kB (KiB).
func parseProcStatus(text []byte) (procMemory, error) {
	var m procMemory
	var haveRSS, haveHWM bool
	for line := range strings.Lines(string(text)) {
		name, value, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kib, err := parseKiB(value)
		if err != nil {
			return procMemory{}, fmt.Errorf("%s: %w", name, err)
		}
		if name == "VmRSS" {
			m.RSS, haveRSS = kib<<10, true
		} else {
			m.HWM, haveHWM = kib<<10, true
		}
	}
	if !haveRSS || !haveHWM {
		return procMemory{}, fmt.Errorf("status has no VmRSS or VmHWM " +
			"line; is the process a zombie?")
	}
	return m, nil
}

// parseKiB parses a value such as "  123456 kB".
func parseKiB(value string) (int64, error) {
	num, unit, _ := strings.Cut(strings.TrimSpace(value), " ")
	if unit != "kB" {
		return 0, fmt.Errorf("value %q is not in kB", strings.TrimSpace(value))
	}
	return strconv.ParseInt(num, 10, 64)
}

// readProcStatus returns the resident set size of process pid.
func readProcStatus(pid int) (procMemory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procMemory{}, err
	}
	return parseProcStatus(b)
}

// truncateText returns s cut to at most n bytes.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

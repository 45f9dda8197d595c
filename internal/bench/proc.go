package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime/stime in /proc/<pid>/stat. It is 100 on every Linux
// architecture Go supports (reading sysconf(_SC_CLK_TCK) would need cgo).
const clockTicks = 100

// ProcSample is what /proc says about a process at one moment.
type ProcSample struct {
	CPU     time.Duration // user + system time so far
	RSS     int64         // VmRSS, bytes
	PeakRSS int64         // VmHWM (peak resident set), bytes
}

// ReadProc samples process pid.
func ReadProc(pid int) (ProcSample, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ProcSample{}, fmt.Errorf("read cpu time of pid %d: %w (is the server still running?)", pid, err)
	}
	cpu, err := ParseStatCPU(stat)
	if err != nil {
		return ProcSample{}, err
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ProcSample{}, fmt.Errorf("read memory of pid %d: %w", pid, err)
	}
	rss, hwm, err := ParseStatusMemory(status)
	if err != nil {
		return ProcSample{}, err
	}
	return ProcSample{CPU: cpu, RSS: rss, PeakRSS: hwm}, nil
}

// ParseStatCPU reads utime + stime (fields 14 and 15) from the contents of /proc/<pid>/stat. The
// command name (field 2) may hold spaces and parentheses, so fields are counted after its last ')'.
func ParseStatCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc stat: no ')' after the command name in %.60q", stat)
	}
	f := strings.Fields(string(stat[i+1:])) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc stat: %d fields after the command name, want at least 13", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] { // fields 14 (utime) and 15 (stime)
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("/proc stat: cpu time %q is not a tick count", s)
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// ParseStatusMemory reads VmRSS and VmHWM (in bytes) from the contents of /proc/<pid>/status.
// Both are missing for a zombie; that is an error.
func ParseStatusMemory(status []byte) (rss, hwm int64, err error) {
	var haveRSS, haveHWM bool
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("/proc status: %s is %q, want \"N kB\"", key, strings.TrimSpace(val))
		}
		kb, perr := strconv.ParseInt(f[0], 10, 64)
		if perr != nil || kb < 0 {
			return 0, 0, fmt.Errorf("/proc status: %s is %q, want \"N kB\"", key, strings.TrimSpace(val))
		}
		if key == "VmRSS" {
			rss, haveRSS = kb*1024, true
		} else {
			hwm, haveHWM = kb*1024, true
		}
	}
	if !haveRSS || !haveHWM {
		return 0, 0, fmt.Errorf("/proc status: no VmRSS/VmHWM (has the process exited?)")
	}
	return rss, hwm, nil
}

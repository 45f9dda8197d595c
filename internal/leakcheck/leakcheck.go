// Package leakcheck fails a test that leaves goroutines behind. Long-lived components
// (sessions, the fake upstream, supervisors, the hub) use it in their tests.
package leakcheck

import (
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"
)

// Check records the goroutines running now and, when the test ends, waits up to 5 s for every
// goroutine started since to exit. Call it first in a test, before starting anything.
//
// ignore names packages (import path prefixes) whose own goroutines a test may leave behind,
// for a library that winds down in its own time after it was stopped (nats-server after a member
// was killed and restarted); a goroutine whose stack shows any of our packages is never ignored.
func Check(t testing.TB, ignore ...string) {
	t.Helper()
	before := snapshot()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		var leaked []string
		for {
			leaked = leaked[:0]
			for id, stack := range snapshot() {
				if _, ok := before[id]; !ok && !benign(stack) && !ignored(stack, ignore) {
					leaked = append(leaked, stack)
				}
			}
			if len(leaked) == 0 {
				return
			}
			if time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond) // polling a condition with a deadline, not synchronising
		}
		sort.Strings(leaked)
		t.Errorf("leakcheck: %d goroutine(s) still running after the test:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
	})
}

// benign goroutines belong to the runtime or the testing package, not to the code under test.
func benign(stack string) bool {
	for _, s := range []string{
		"testing.(*T).Run", "testing.tRunner", "testing.(*M).", "runtime.goexit\n\t" + "created by runtime",
		"os/signal.signal_recv", "runtime/trace", "net/http.(*persistConn)",
	} {
		if strings.Contains(stack, s) && !strings.Contains(stack, "tiktok-live-server/internal/") {
			return true
		}
	}
	return false
}

func ignored(stack string, prefixes []string) bool {
	if strings.Contains(stack, "tiktok-live-server/internal/") {
		return false
	}
	for _, p := range prefixes {
		if strings.Contains(stack, p) {
			return true
		}
	}
	return false
}

// snapshot maps goroutine ids to their stacks.
func snapshot() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		header, _, _ := strings.Cut(g, "\n")
		// "goroutine 12 [running]:"
		fields := strings.Fields(header)
		if len(fields) >= 2 && fields[0] == "goroutine" {
			out[fields[1]] = g
		}
	}
	return out
}

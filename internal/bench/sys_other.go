//go:build !unix

package bench

import (
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
)

// Supported says whether a load run works here. It does not on this platform: the run reads the
// server's CPU and memory from /proc and stops the server's process group, neither of which
// exists here. The raw broadcaster (-serve-raw) and the -table helper still run.
func Supported() error {
	return errors.New("bench: a load run needs Linux (it reads the server's CPU and memory from /proc and stops it " +
		"by process group); it is not supported on " + runtime.GOOS + ": run it on a Linux machine, in WSL or in a Linux container")
}

func ownGroup(*exec.Cmd) {}

// terminateGroup has no process groups to signal here: the process itself is killed.
func terminateGroup(pid int) { killGroup(pid) }

func killGroup(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}

// RaiseFileLimit does nothing: there is no open-file limit to raise here.
func RaiseFileLimit(*slog.Logger) {}

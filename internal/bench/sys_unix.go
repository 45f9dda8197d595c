//go:build unix

package bench

import (
	"errors"
	"log/slog"
	"os/exec"
	"runtime"
	"syscall"
)

// Supported says whether a load run works here: it reads the server's CPU time and memory from
// /proc, which only Linux has.
func Supported() error {
	if runtime.GOOS != "linux" {
		return errors.New("bench: a load run needs Linux (it reads the server's CPU and memory from /proc); " +
			"run it on a Linux machine or in a Linux container")
	}
	return nil
}

// ownGroup starts cmd in a process group of its own, so stopping it stops its children too.
func ownGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// terminateGroup asks the process group led by pid to stop (SIGTERM).
func terminateGroup(pid int) { _ = syscall.Kill(-pid, syscall.SIGTERM) }

// killGroup ends the process group led by pid (SIGKILL).
func killGroup(pid int) { _ = syscall.Kill(-pid, syscall.SIGKILL) }

// RaiseFileLimit lifts the soft open-file limit to the hard one, for this process and the
// servers it starts (an explicit Setrlimit is what child processes inherit).
func RaiseFileLimit(log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			log.Warn("could not raise the open-file limit; many clients may be refused", "err", err)
		}
	}
	log.Debug("open-file limit", "soft", lim.Cur, "hard", lim.Max)
}

//go:build unix

package wsserver

import (
	"errors"
	"net"
	"syscall"
)

// pollable reports whether nc's socket can be read without blocking from the poller.
func pollable(nc net.Conn) bool {
	_, ok := nc.(syscall.Conn)
	return ok
}

// readNow reads what the socket holds without waiting: Go keeps sockets non-blocking, so a read
// with nothing to read is EAGAIN (wouldBlock). An error from rc itself means the socket was closed
// (by the writer, after its close handshake).
func readNow(rc syscall.RawConn, buf []byte) (n int, wouldBlock bool, err error) {
	var rerr error
	// Returning true from the callback means "do not wait for readiness".
	if err := rc.Read(func(fd uintptr) bool {
		n, rerr = syscall.Read(int(fd), buf)
		return true
	}); err != nil {
		return 0, false, err
	}
	if errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EINTR) {
		return 0, true, nil
	}
	return n, false, rerr
}

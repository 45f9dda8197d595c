//go:build !unix

package wsserver

import (
	"errors"
	"net"
	"syscall"
)

// pollable is false where sockets cannot be read without blocking through syscall.Read (Windows
// sockets use overlapped I/O): Poller.Add refuses, and callers read each client with ReadLoop,
// one goroutine per client instead of none.
func pollable(net.Conn) bool { return false }

func readNow(syscall.RawConn, []byte) (int, bool, error) {
	return 0, false, errors.New("wsserver: non-blocking reads are not supported on this platform")
}

// iovec is unused here.
type iovec struct{}

// writevNow never writes here: TryWriteText keeps everything for a blocking Flush.
func writevNow(syscall.RawConn, [][]byte, *[]iovec) (int, bool, error) {
	return 0, true, nil
}

//go:build unix

package wsserver

import (
	"errors"
	"net"
	"syscall"
	"unsafe"
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

// iovec is one buffer of a writev.
type iovec = syscall.Iovec

// maxIovecs is the most buffers one writev takes (IOV_MAX on Linux and the BSDs).
const maxIovecs = 1024

// writevNow writes what the socket takes of bufs now, without waiting for room: n bytes were
// written; wouldBlock means the socket's send buffer is full. Like readNow, an error from rc itself
// means the socket was closed.
func writevNow(rc syscall.RawConn, bufs [][]byte, iov *[]iovec) (n int, wouldBlock bool, err error) {
	v := (*iov)[:0]
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		if len(v) == maxIovecs {
			break
		}
		var e iovec
		e.Base = &b[0]
		e.SetLen(len(b))
		v = append(v, e)
	}
	*iov = v
	if len(v) == 0 {
		return 0, false, nil
	}
	var werr error
	if err := rc.Write(func(fd uintptr) bool {
		for {
			r, _, errno := syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&v[0])), uintptr(len(v)))
			if errno == syscall.EINTR {
				continue
			}
			if errno != 0 {
				werr = errno
			} else {
				n = int(r)
			}
			return true // never wait for room: the caller decides what to do with the rest
		}
	}); err != nil {
		return 0, false, err
	}
	clear(v) // do not pin the payloads
	if werr == syscall.EAGAIN {
		return 0, true, nil
	}
	return n, false, werr
}

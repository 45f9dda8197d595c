// Package cli is the program: flags, environment, subcommands and their wiring.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// IO is what a command reads and writes; tests pass buffers.
type IO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, io IO) int
}

func commands() []command {
	return []command{
		{"serve", "run the server (the default: 'tiktok-live-server [flags] [port]')", runServe},
		{"decode", "turn capture lines (stdin) into contract events (stdout)", runDecode},
		{"fake-tiktok", "run a fake TikTok (web, sign server, push socket) for tests and demos", runFakeTikTok},
		{"watch", "connect to one LIVE room and print its events as JSON lines (no server)", runWatch},
		{"version", "print the version", runVersion},
		{"tail", "print the events of a running server as JSON lines (a WebSocket client)", runTail},
		{"bench", "measure a server under load against the fake TikTok (deliveries/s, latency, CPU, RSS)", runBench},
		{"token", "mint a read token for one room, signed with TOKEN_SECRET", runToken},
	}
}

// Run runs the program with args (without the program name) and returns the exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	sio := IO{Stdin: stdin, Stdout: stdout, Stderr: stderr}
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
		usage(stdout)
		return 0
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") || isPort(args[0]) {
		return runServe(ctx, args, sio) // the original's "tiktok-live-server [port]"
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], sio)
		}
	}
	fmt.Fprintf(stderr, "tiktok-live-server: unknown command %q (run 'tiktok-live-server help')\n", args[0])
	return 2
}

func isPort(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: tiktok-live-server [flags] [port]      run the server (port 3000 by default)")
	fmt.Fprintln(w, "       tiktok-live-server <command> [flags]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nrun 'tiktok-live-server <command> -h' for a command's flags")
}

// parseFlags parses a command's flags, which take no positional arguments unless maxArgs > 0.
// When it returns ok == false the command exits with code: 0 for -h, 2 for a usage error.
func parseFlags(fs *flag.FlagSet, args []string, maxArgs int) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	if fs.NArg() > maxArgs {
		fmt.Fprintf(fs.Output(), "%s: unexpected arguments %q\n", fs.Name(), fs.Args()[maxArgs:])
		fs.Usage()
		return 2, false
	}
	return 0, true
}

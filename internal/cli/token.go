package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tiktok-live-server/tiktok-live-server/internal/auth"
	"github.com/tiktok-live-server/tiktok-live-server/internal/webcast"
)

// runToken implements `tiktok-live-server token --room NAME [--ttl 24h] [--secret-file F]`: it mints
// a scoped read token for one room (auth.Mint), printed alone on stdout so scripts can capture it;
// its expiry goes to stderr. The secret is the server's TOKEN_SECRET, from the file when
// --secret-file is given (a file keeps it out of the process list and shell history), else from the
// environment. Usage errors exit 2.
func runToken(ctx context.Context, args []string, sio IO) int {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(sio.Stderr)
	var (
		roomName   = fs.String("room", "", "the room (TikTok username, @name or profile URL) the token may read; required")
		ttl        = fs.Duration("ttl", 24*time.Hour, "how long the token is valid, e.g. 30m, 24h, 720h")
		secretFile = fs.String("secret-file", "", "read the secret from this file instead of the TOKEN_SECRET environment variable")
	)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: tiktok-live-server token --room NAME [--ttl 24h] [--secret-file FILE]")
		fmt.Fprintln(fs.Output(), "prints a read token for one room, signed with the server's TOKEN_SECRET")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, 0); !ok {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(sio.Stderr, "token: "+format+"\n", a...)
		return 2
	}
	if *roomName == "" {
		return fail("--room is required (the username the token may read)")
	}
	name, err := webcast.ParseUsername(*roomName)
	if err != nil {
		return fail("--room: %v", err)
	}
	if *ttl <= 0 {
		return fail("--ttl must be positive, got %v", *ttl)
	}
	secret, err := tokenSecret(*secretFile)
	if err != nil {
		return fail("%v", err)
	}
	now := time.Now()
	tok := auth.Mint(secret, name, *ttl, now)
	fmt.Fprintln(sio.Stdout, tok)
	exp := now.Add(*ttl).UTC().Truncate(time.Second)
	fmt.Fprintf(sio.Stderr, "token for @%s, expires %s (in %v)\n", name, exp.Format(time.RFC3339), *ttl)
	return 0
}

// tokenSecret reads the signing secret: the file wins over TOKEN_SECRET. A trailing newline (from
// echo or an editor) is not part of it. The messages never include the secret.
func tokenSecret(file string) ([]byte, error) {
	var s, from string
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--secret-file: %w", err)
		}
		s, from = string(b), "--secret-file "+file
	} else {
		s, from = os.Getenv("TOKEN_SECRET"), "TOKEN_SECRET"
	}
	s = strings.TrimRight(s, "\r\n")
	if s == "" {
		return nil, fmt.Errorf("no secret: set TOKEN_SECRET or pass --secret-file (the same secret the server verifies tokens with)")
	}
	if err := auth.CheckSecret([]byte(s)); err != nil {
		return nil, fmt.Errorf("%s: %w", from, err)
	}
	return []byte(s), nil
}

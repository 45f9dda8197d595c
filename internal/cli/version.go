package cli

import (
	"context"
	"flag"
	"fmt"
	"runtime/debug"
)

// stamped is the release version, set at link time by scripts/release.sh:
//
//	go build -ldflags "-X github.com/tiktok-live-server/tiktok-live-server/internal/cli.stamped=v1.2.3"
var stamped string

// Version says which build this is: the version a release stamped in, else the module version,
// else the VCS revision (with "-dirty" for local changes), else "devel".
func Version() string {
	if stamped != "" {
		return stamped
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return "devel"
	}
	return rev + dirty
}

func runVersion(ctx context.Context, args []string, sio IO) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(sio.Stderr)
	if code, ok := parseFlags(fs, args, 0); !ok {
		return code
	}
	fmt.Fprintln(sio.Stdout, "tiktok-live-server", Version())
	return 0
}

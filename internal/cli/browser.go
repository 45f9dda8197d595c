package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"time"
)

// openBrowser opens url in the desktop's default browser and waits (bounded) for the launcher to
// hand it over, so the launcher's process is reaped.
func openBrowser(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "windows":
		// rundll32 rather than "cmd /c start", which would read the & of a query string as a
		// command separator.
		cmd = exec.CommandContext(ctx, "rundll32", "url.dll,FileProtocolHandler", url)
	case "darwin":
		cmd = exec.CommandContext(ctx, "open", url)
	default:
		cmd = exec.CommandContext(ctx, "xdg-open", url)
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("open %s in a browser: %w (open it by hand)", url, err)
	}
	return nil
}

// interactive reports whether stdout is a terminal (someone is watching the console), where a
// demo should open the dashboard by itself; a service, a pipe or a test is not.
func interactive(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

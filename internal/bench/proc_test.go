package bench

import (
	"os"
	"testing"
	"time"
)

func TestProc_ParseStatCPU(t *testing.T) {
	file, err := os.ReadFile("testdata/stat.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		stat    string
		want    time.Duration
		wantErr bool
	}{
		// utime 1234 + stime 567 ticks at 100 Hz; the command name holds spaces and parentheses.
		{"testdata", string(file), 18010 * time.Millisecond, false},
		{"plain name", "1 (node) S 0 1 1 0 -1 0 0 0 0 0 250 50 0 0", 3 * time.Second, false},
		{"no name", "1 node S 0 1 1 0 -1 0 0 0 0 0 250 50 0 0", 0, true},
		{"too short", "1 (node) S 0 1 1", 0, true},
		{"not a number", "1 (node) S 0 1 1 0 -1 0 0 0 0 0 x 50 0 0", 0, true},
		{"negative", "1 (node) S 0 1 1 0 -1 0 0 0 0 0 -5 50 0 0", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStatCPU([]byte(tc.stat))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("ParseStatCPU = %v, %v; want %v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestProc_ParseStatusMemory(t *testing.T) {
	file, err := os.ReadFile("testdata/status.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		status    string
		rss, peak int64
		wantErr   bool
	}{
		{"testdata", string(file), 34567 * 1024, 45678 * 1024, false},
		{"minimal", "Name:\tx\nVmHWM:\t  10 kB\nVmRSS:\t 8 kB\n", 8 * 1024, 10 * 1024, false},
		{"zombie has neither", "Name:\tx\nState:\tZ (zombie)\n", 0, 0, true},
		{"only rss", "VmRSS:\t 8 kB\n", 0, 0, true},
		{"wrong unit", "VmHWM:\t10 MB\nVmRSS:\t8 kB\n", 0, 0, true},
		{"not a number", "VmHWM:\tten kB\nVmRSS:\t8 kB\n", 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rss, peak, err := ParseStatusMemory([]byte(tc.status))
			if (err != nil) != tc.wantErr || rss != tc.rss || peak != tc.peak {
				t.Errorf("ParseStatusMemory = %d, %d, %v; want %d, %d, error %v", rss, peak, err, tc.rss, tc.peak, tc.wantErr)
			}
		})
	}
}

func TestProc_ReadProc(t *testing.T) {
	s, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSS <= 0 || s.PeakRSS < s.RSS {
		t.Errorf("own process: %+v", s)
	}
	if _, err := ReadProc(1 << 30); err == nil {
		t.Errorf("no error for a pid that does not exist")
	}
}

package event

import "testing"

func TestPosition_AtOrAfter(t *testing.T) {
	const a, b = "0123456789abcdef", "fedcba9876543210"
	tests := []struct {
		name string
		p, q Position
		want bool
	}{
		{"same", Position{a, 5}, Position{a, 5}, true},
		{"after", Position{a, 6}, Position{a, 5}, true},
		{"before", Position{a, 4}, Position{a, 5}, false},
		{"other epoch, higher seq", Position{b, 9}, Position{a, 5}, false},
		{"other epoch, same seq", Position{b, 5}, Position{a, 5}, false},
		{"zero", Position{}, Position{}, true},
	}
	for _, tc := range tests {
		if got := tc.p.AtOrAfter(tc.q); got != tc.want {
			t.Errorf("%s: %+v.AtOrAfter(%+v) = %v, want %v", tc.name, tc.p, tc.q, got, tc.want)
		}
	}
}

func TestValidEpoch(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"0123456789abcdef", true},
		{"0123456789ABCDEF", false},
		{"0123456789abcde", false},
		{"0123456789abcdef0", false},
		{"0123456789abcdeg", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := ValidEpoch(tc.in); got != tc.want {
			t.Errorf("ValidEpoch(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

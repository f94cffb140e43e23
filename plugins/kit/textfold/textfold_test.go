package textfold

import "testing"

// TestPlain: case, accents and spacing do not count (P2 secret answers, R3 identities).
func TestPlain(t *testing.T) {
	for in, want := range map[string]string{"  Éléphant  Rose ": "elephant rose", "ŁÓDŹ": "łodz", "Ďurčová": "durcova", "": ""} {
		if got := Plain(in); got != want {
			t.Errorf("Plain(%q) = %q, want %q", in, got, want)
		}
	}
}

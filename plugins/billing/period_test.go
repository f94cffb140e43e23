package billing

import "testing"

// B5: the frame's period arithmetic on a few fixed days (the invoices part adds the
// property tests).
func TestPeriodAtFixedDays(t *testing.T) {
	start := Date{2027, 1, 31}
	for _, c := range []struct{ d, first, last Date }{
		{Date{2027, 1, 31}, Date{2027, 1, 31}, Date{2027, 2, 27}},
		{Date{2027, 2, 28}, Date{2027, 2, 28}, Date{2027, 3, 30}},
		{Date{2027, 3, 31}, Date{2027, 3, 31}, Date{2027, 4, 29}},
		{Date{2028, 2, 29}, Date{2028, 2, 29}, Date{2028, 3, 30}},
	} {
		if _, first, last := periodAt(start, c.d); first != c.first || last != c.last {
			t.Errorf("period of %s: %s–%s, want %s–%s", c.d, first, last, c.first, c.last)
		}
	}
	if got := dueOn(Date{2027, 3, 31}, Date{2027, 3, 31}, 5); got != (Date{2027, 4, 5}) {
		t.Errorf("due: %s", got)
	}
	if got := dueOn(Date{2027, 3, 2}, Date{2027, 3, 2}, 5); got != (Date{2027, 3, 5}) {
		t.Errorf("due: %s", got)
	}
}

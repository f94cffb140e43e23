package billing

import (
	"strconv"
	"strings"
)

// parseAmount reads an amount typed in French notation ("1 234,56", "89", "89,5"; a point
// is taken as the decimal mark too) as minor units.
func parseAmount(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	for _, sp := range []string{"\u00a0", "\u202f", " ", "€"} {
		s = strings.ReplaceAll(s, sp, "")
	}
	s = strings.ReplaceAll(s, ",", ".")
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > 2 || len(whole) > 9 || strings.ContainsAny(whole+frac, "+-") {
		return 0, false
	}
	for len(frac) < 2 {
		frac += "0"
	}
	w, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return w*100 + f, true
}

// plainAmount writes minor units with a point and two decimals, as machines read them
// ("89.00", "-12.50"): the audit trail and the Factur-X XML.
func plainAmount(minor int64) string {
	a := absMinor(minor)
	s := strconv.FormatInt(a/100, 10) + "." + strconv.FormatInt(a%100/10, 10) + strconv.FormatInt(a%10, 10)
	if minor < 0 {
		s = "-" + s
	}
	return s
}

// absMinor is the size of an amount whatever its sign (a credit note's total is negative).
func absMinor(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// parseCatalogPrice reads a price in the currency's major unit ("89", "89,00", "0.6") as minor
// units; ok is false for anything else, negative, more than two decimals or absurd.
func parseCatalogPrice(s string) (int64, bool) {
	n, ok := parseAmount(s)
	if !ok || strings.Contains(s, "€") || n > maxPriceMinor {
		return 0, false
	}
	return n, true
}

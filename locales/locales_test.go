package locales

import (
	"testing"
	"time"
)

// TestFormatsPerLocale: dates, numbers and money are written the way each language writes
// them (P4): "1 234,56 €", "1 234,56 zł".
func TestFormatsPerLocale(t *testing.T) {
	const nb = "\u00a0"
	paris, _ := time.LoadLocation("Europe/Paris")
	at := time.Date(2026, 11, 21, 23, 30, 0, 0, time.UTC) // already the 22nd in Paris
	cases := []struct{ got, want string }{
		{FormatMoney("fr", 123456, "EUR"), "1" + nb + "234,56" + nb + "€"},
		{FormatMoney("pl", 123456, "PLN"), "1" + nb + "234,56" + nb + "zł"},
		{FormatMoney("sk", 123456, "EUR"), "1" + nb + "234,56" + nb + "€"},
		{FormatMoney("fr", -5, "EUR"), "-0,05" + nb + "€"},
		{FormatMoney("pl", 100000000, "PLN"), "1" + nb + "000" + nb + "000,00" + nb + "zł"},
		{FormatInt("sk", 1234567), "1" + nb + "234" + nb + "567"},
		{FormatDecimal("fr", 1234.5, 2), "1" + nb + "234,50"},
		{FormatDate("fr", at, paris), "22/11/2026"},
		{FormatDate("pl", at, time.UTC), "21.11.2026"},
		{FormatDate("sk", at, time.UTC), "21. 11. 2026"},
		{FormatDateTime("fr", at, paris), "22/11/2026 00:30"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

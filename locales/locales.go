// Package locales holds the fr, pl and sk message files of the core and of every module,
// embedded in the binary, and the per-locale formatting of dates, numbers and money.
// It has no state and imports nothing from the rest of the repository.
package locales

import (
	"embed"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/number"
)

// Files holds the message files: the core's <locale>.toml and each module's
// <module>.<locale>.toml.
//
//go:embed *.toml
var Files embed.FS

// Supported lists the locales every string exists in, in the order the switcher shows them.
var Supported = []string{"fr", "pl", "sk"}

// IsSupported reports whether tag is one of Supported.
func IsSupported(tag string) bool {
	for _, s := range Supported {
		if s == tag {
			return true
		}
	}
	return false
}

// NativeName is the name of a locale in its own language, for the language switcher.
func NativeName(tag string) string {
	switch tag {
	case "fr":
		return "Français"
	case "pl":
		return "Polski"
	case "sk":
		return "Slovenčina"
	}
	return tag
}

// dateLayouts are the CLDR short date patterns: 21/11/2026, 21.11.2026, 21. 11. 2026.
var dateLayouts = map[string]string{
	"fr": "02/01/2006",
	"pl": "02.01.2006",
	"sk": "2. 1. 2006",
}

// FormatDate formats t's calendar date in loc's time zone the way lang writes dates.
func FormatDate(lang string, t time.Time, loc *time.Location) string {
	if loc != nil {
		t = t.In(loc)
	}
	layout, ok := dateLayouts[lang]
	if !ok {
		layout = "2006-01-02"
	}
	return t.Format(layout)
}

// FormatDateTime formats date and 24-hour time in loc: "21/11/2026 14:05".
func FormatDateTime(lang string, t time.Time, loc *time.Location) string {
	if loc != nil {
		t = t.In(loc)
	}
	return FormatDate(lang, t, nil) + " " + t.Format("15:04")
}

func printer(lang string) *message.Printer {
	return message.NewPrinter(language.Make(lang))
}

// FormatInt formats an integer with lang's digit grouping: 1 234 567.
func FormatInt(lang string, n int64) string {
	return printer(lang).Sprint(number.Decimal(n))
}

// FormatDecimal formats v with exactly scale fraction digits: 1 234,50.
func FormatDecimal(lang string, v float64, scale int) string {
	return printer(lang).Sprint(number.Decimal(v, number.Scale(scale)))
}

// currencySymbols are the symbols written after the amount in fr, pl and sk.
var currencySymbols = map[string]string{"EUR": "€", "PLN": "zł"}

// FormatMoney formats an amount in minor units (cents, grosze) of currency the way lang
// writes money: "1 234,56 €", "1 234,56 zł". Integer arithmetic only: no float rounding.
func FormatMoney(lang string, minor int64, currency string) string {
	neg := minor < 0
	if neg {
		minor = -minor
	}
	units, cents := minor/100, minor%100
	p := printer(lang)
	s := p.Sprint(number.Decimal(units)) + decimalSeparator(lang) + fmt.Sprintf("%02d", cents)
	if neg {
		s = "-" + s
	}
	sym, ok := currencySymbols[currency]
	if !ok {
		sym = currency
	}
	return s + "\u00a0" + sym
}

// FormatMeasure formats a measured value (a lab result, a reference range) with at most
// three decimals, no trailing zeros, and the language's decimal separator: "5,4".
func FormatMeasure(lang string, v float64) string {
	s := strings.TrimRight(strings.TrimRight(strconv.FormatFloat(v, 'f', 3, 64), "0"), ".")
	if s == "-0" {
		s = "0"
	}
	return strings.Replace(s, ".", decimalSeparator(lang), 1)
}

var separators sync.Map

func decimalSeparator(lang string) string {
	if s, ok := separators.Load(lang); ok {
		return s.(string)
	}
	s := printer(lang).Sprint(number.Decimal(1.5, number.Scale(1)))
	s = strings.TrimSuffix(strings.TrimPrefix(s, "1"), "5")
	separators.Store(lang, s)
	return s
}

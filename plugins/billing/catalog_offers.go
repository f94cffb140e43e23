package billing

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
)

// offer is a plan or option as the public page shows it, in the reader's words: the prices
// in force excluding VAT and with it, the allowances and the prices beyond them.
type offer struct {
	Product   Product
	Fee       string // excluding VAT, a month
	FeeVAT    string // including VAT
	Calls     string // "150 appels inclus par mois"
	SMS       string
	CallPrice string // beyond the allowance, excluding VAT
	SMSPrice  string
}

// Lines are the description's lines, each its own paragraph on the page (a page collapses
// the line breaks the clerk typed).
func (o offer) Lines() []string {
	var out []string
	for _, l := range strings.Split(o.Product.Description, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// withVAT is a net amount with pct percent of VAT added, rounded half up to the cent.
func withVAT(net int64, pct int64) int64 {
	return net + (net*pct*2+100)/200
}

// offersPage is the public page of the offers (B1–B3): the plans and options offered with
// the prices of the tariff in force today (excluding VAT, with the VAT rate and the price
// including it), each plan's allowances of calls and SMS and their prices beyond; what every
// subscription includes (B2), read from the service's hours and the tenant's rules; and the
// notice that the service is no medical advice (B12). A product the tariff in force does not
// price is not offered yet.
func (m *Module) offersPage(c *kit.Ctx) error {
	t := c.Tenant()
	var prods []Product
	var prices map[string]Price
	var tar *Tariff
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		var err error
		if prods, err = listProducts(ctx, sc, true); err != nil {
			return err
		}
		tar, prices, err = currentTariff(ctx, sc, m.today(t))
		return err
	}); err != nil {
		return err
	}
	loc := c.Loc()
	lang, cur, vat := loc.Lang, t.Currency, vatPercent.Of(t)
	money := func(minor int64) string { return locales.FormatMoney(lang, minor, cur) }
	count := func(id string, n int) string {
		return loc.TN(id, n, "N", locales.FormatInt(lang, int64(n)))
	}
	var plans, options []offer
	for _, p := range prods {
		pr, ok := prices[p.ID]
		if !ok || tar == nil {
			continue
		}
		o := offer{Product: p, Fee: money(pr.MonthlyFeeMinor), FeeVAT: money(withVAT(pr.MonthlyFeeMinor, vat))}
		if p.Kind == kindPlan {
			o.Calls, o.SMS = count("billing.catalog.offers.calls_included", p.CallsIncluded), count("billing.catalog.offers.sms_included", p.SMSIncluded)
			o.CallPrice, o.SMSPrice = money(pr.CallMinor), money(pr.SMSMinor)
			plans = append(plans, o)
		} else {
			options = append(options, o)
		}
	}
	v := c.View("billing.catalog.offers.title")
	v.Data["Plans"], v.Data["Options"] = plans, options
	v.Data["VAT"] = loc.T("billing.catalog.offers.vat", "pct", locales.FormatInt(lang, vat))
	v.Data["Hours"] = hoursInWords(loc, fullHours(t))
	v.Data["Recording"] = count("billing.catalog.offers.recording", int(recordingRetentionMonths.Of(t)))
	// The next step: how to reach the firm to subscribe (its contacts, when it gave them) and,
	// for a client, the way into his portal.
	v.Data["Email"], _ = t.Rules["tenant.contacts.support"].(string)
	if phone, _ := t.Rules["tenant.contacts.phone"].(string); phone != "" {
		if e164, ok := normalisePhone(phone, t.Country); ok {
			v.Data["Phone"], v.Data["PhoneShown"] = e164, strings.ReplaceAll(formatPhone(e164), " ", "\u00a0")
		} else {
			v.Data["Phone"], v.Data["PhoneShown"] = strings.ReplaceAll(phone, " ", ""), phone
		}
	}
	v.Data["SignedIn"] = c.User() != nil && c.User().ID != ""
	return c.Render(http.StatusOK, "catalog_offers", v)
}

// hoursInWords says answering hours in the reader's language: the weekdays that share the
// same spans are grouped ("du lundi au vendredi de 08:00 à 20:00 ; le samedi de 08:00 à
// 13:00").
func hoursInWords(loc *locales.Localizer, h Hours) string {
	spans := map[int][]string{}
	for _, d := range h.Days {
		spans[d.Weekday] = append(spans[d.Weekday], loc.T("billing.catalog.hours.span", "opens", d.Opens, "closes", d.Closes))
	}
	var parts []string
	for wd := 1; wd <= 7; {
		s, ok := spans[wd]
		if !ok {
			wd++
			continue
		}
		key := strings.Join(s, ", ")
		last := wd
		for last+1 <= 7 && strings.Join(spans[last+1], ", ") == key {
			last++
		}
		if last == wd {
			parts = append(parts, loc.T("billing.catalog.hours.day", "day", loc.T("billing.catalog.hours.on."+strconv.Itoa(wd)), "spans", key))
		} else {
			parts = append(parts, loc.T("billing.catalog.hours.days", "from", loc.T("billing.catalog.hours.from."+strconv.Itoa(wd)),
				"to", loc.T("billing.catalog.hours.to."+strconv.Itoa(last)), "spans", key))
		}
		wd = last + 1
	}
	return strings.Join(parts, loc.T("billing.catalog.hours.sep"))
}

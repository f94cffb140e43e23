package billing

import (
	"context"
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

// genDay draws a day of 2024–2031, often the 28th to 31st and the end of February (leap
// years included).
func genDay(label string) *rapid.Generator[Date] {
	return rapid.Custom(func(t *rapid.T) Date {
		y := rapid.IntRange(2024, 2031).Draw(t, label+".y")
		m := time.Month(rapid.IntRange(1, 12).Draw(t, label+".m"))
		d := rapid.OneOf(rapid.IntRange(1, 31), rapid.IntRange(28, 31)).Draw(t, label+".d")
		return Date{y, m, min(d, daysIn(y, m))}
	})
}

// B5: anniversary periods, whatever the start day (29th–31st, leap years): each period begins
// the day after the previous one ends (contiguous, no overlap), one per month, on the start's
// day of month or, when the month is shorter, its last day; every day after the start lies in
// exactly the period periodAt names.
func TestPropertyPeriods(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		start := genDay("start").Draw(t, "start")
		n := rapid.IntRange(1, 60).Draw(t, "n")
		for k := 0; k < n; k++ {
			first := periodStart(start, k)
			next := periodStart(start, k+1)
			gotK, f, last := periodAt(start, first)
			if gotK != k || f != first || last != next.AddDays(-1) {
				t.Fatalf("B5: period %d of %s: periodAt(%s) = %d %s–%s, next starts %s", k, start, first, gotK, f, last, next)
			}
			if !last.Before(next) || last.AddDays(1) != next {
				t.Fatalf("B5: period %d ends %s, next starts %s", k, last, next)
			}
			months := (first.Y-start.Y)*12 + int(first.M) - int(start.M)
			if months != k {
				t.Fatalf("B5: period %d starts in month +%d", k, months)
			}
			if first.D != start.D && first.D != daysIn(first.Y, first.M) {
				t.Fatalf("B5: period %d of %s starts on %s", k, start, first)
			}
			if first.D != start.D && start.D <= daysIn(first.Y, first.M) {
				t.Fatalf("B5: period %d of %s starts on %s although the month has day %d", k, start, first, start.D)
			}
		}
		d := start.AddDays(rapid.IntRange(0, 2000).Draw(t, "offset"))
		k, first, last := periodAt(start, d)
		if d.Before(first) || d.After(last) || periodStart(start, k) != first {
			t.Fatalf("B5: %s in period %d %s–%s", d, k, first, last)
		}
	})
}

// B5: the due day is never before the invoice is issued, always the tenant's payment day (the
// month's last day when it has fewer days), in the period's first month or, when the invoice
// is issued after it, the first payment day after.
func TestPropertyDueOn(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		start := genDay("start").Draw(t, "start")
		issued := start.AddDays(rapid.IntRange(-40, 120).Draw(t, "late"))
		payDay := rapid.IntRange(1, 28).Draw(t, "payDay")
		due := dueOn(start, issued, payDay)
		if due.Before(issued) {
			t.Fatalf("B5: due %s before issued %s", due, issued)
		}
		if due.D != min(payDay, daysIn(due.Y, due.M)) {
			t.Fatalf("B5: due %s is not payment day %d", due, payDay)
		}
		if due.Before(Date{start.Y, start.M, 1}) {
			t.Fatalf("B5: due %s before the period's month (%s)", due, start)
		}
		// The first such day: the payment day before it is in an earlier month than the
		// period's, or before the issue.
		prev := Date{due.Y, due.M, 1}.AddMonthsClamped(-1)
		prev.D = min(payDay, daysIn(prev.Y, prev.M))
		if !prev.Before(issued) && !prev.Before(Date{start.Y, start.M, 1}) {
			t.Fatalf("B5: due %s, but %s was already a payment day after issue %s", due, prev, issued)
		}
	})
}

// B5: the VAT of a rate is rounded half-up on the total of its lines (half away from zero on
// a credit note), and a credit note's VAT is the invoice's negated.
func TestPropertyVATRounding(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rate := rapid.IntRange(0, 100).Draw(t, "rate")
		amounts := rapid.SliceOfN(rapid.Int64Range(0, 5_000_000), 1, 8).Draw(t, "amounts")
		inv := &Invoice{}
		cn := &Invoice{}
		var net int64
		for i, a := range amounts {
			inv.Lines = append(inv.Lines, InvoiceLine{Position: i + 1, AmountMinor: a, VATPercent: rate})
			cn.Lines = append(cn.Lines, InvoiceLine{Position: i + 1, AmountMinor: -a, VATPercent: rate})
			net += a
		}
		totals(inv)
		totals(cn)
		exact := net * int64(rate) // hundredths of a cent
		if d := inv.VATMinor*100 - exact; d <= -50 || d > 50 {
			t.Fatalf("B5: VAT %d of %d at %d %%", inv.VATMinor, net, rate)
		}
		if cn.VATMinor != -inv.VATMinor || cn.TotalMinor != -inv.TotalMinor || inv.TotalMinor != net+inv.VATMinor {
			t.Fatalf("B5: credit %d/%d, invoice %d/%d", cn.VATMinor, cn.TotalMinor, inv.VATMinor, inv.TotalMinor)
		}
	})
}

// B4, B5: a tariff announced to take effect in the middle of a period: an invoice uses the
// tariff in force on its issue day, whatever the period's start.
func TestPropertyTariffOfTheIssueDay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		change := Date{2027, 6, 15}
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			tar := Tariff{TenantID: f.A.ID, ID: newID(), Name: "Tarif juin 2027", EffectiveOn: change, State: tariffAnnounced, CreatedAt: f.now}
			if _, err := sc.Insert(&tar).Exec(ctx); err != nil {
				return err
			}
			for code, fee := range map[string]int64{"ESSENTIEL": 9900, "CONFORT": 19900, "AGENDA": 2700, "RDV": 1500} {
				if _, err := sc.Insert(&Price{TenantID: f.A.ID, TariffID: tar.ID, ProductID: cat.Products[code], MonthlyFeeMinor: fee, CallMinor: 70, SMSMinor: 20}).Exec(ctx); err != nil {
					return err
				}
			}
			return nil
		})
		i := 0
		rapid.Check(t, func(rt *rapid.T) {
			i++
			issue := change.AddDays(rapid.IntRange(-45, 45).Draw(rt, "issue"))
			starts := issue.AddDays(-rapid.IntRange(0, 400).Draw(rt, "age"))
			sub := f.subscribe(f.A, &sdk.User{ID: fmt.Sprint("p", i)}, cat.Products["ESSENTIEL"], starts, fmt.Sprintf("+3360%07d", i), cat.Products["AGENDA"])
			_, first, _ := periodAt(starts, issue)
			f.now = issue.In(paris).Add(9 * time.Hour)
			var inv *Invoice
			f.in(f.A, func(ctx context.Context, sc *store.Scope) (err error) {
				inv, err = f.m.invoicePeriod(ctx, f.A, sc, sub, first)
				return err
			})
			plan, option := int64(8900), int64(2500)
			if !issue.Before(change) {
				plan, option = 9900, 2700
			}
			if inv.Lines[0].UnitMinor != plan || inv.Lines[1].UnitMinor != option || inv.IssuedOn != issue {
				rt.Fatalf("B4: period %s issued %s (change %s): plan %d, option %d", first, issue, change, inv.Lines[0].UnitMinor, inv.Lines[1].UnitMinor)
			}
		})
	})
}

// B3, B5: usage is counted by the tenant's days (Europe/Paris, summer and winter time): an
// event counts in the previous period when it happened before the new period's first
// midnight in Paris, in the new one from that midnight on — on days the clocks change too.
func TestPropertyUsageAtPeriodBoundaries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		cat := f.seedCatalog(f.A)
		i := 0
		rapid.Check(t, func(rt *rapid.T) {
			i++
			starts := rapid.OneOf(genDay("s"), rapid.SampledFrom([]Date{{2027, 2, 28}, {2027, 9, 30}, {2027, 3, 28}, {2027, 10, 31}, {2026, 10, 25}})).Draw(rt, "starts")
			k := rapid.IntRange(1, 14).Draw(rt, "k")
			boundary := periodStart(starts, k) // the first day of the period invoiced
			offset := time.Duration(rapid.IntRange(-150, 150).Draw(rt, "minutes")) * time.Minute
			at := boundary.In(paris).Add(offset)
			sub := f.subscribe(f.A, &sdk.User{ID: fmt.Sprint("b", i)}, cat.Products["ESSENTIEL"], starts, fmt.Sprintf("+3361%07d", i))
			f.use(f.A, sub, usageCall, 1, at)
			prevFirst, prevLast := periodStart(starts, k-1), boundary.AddDays(-1)
			var before, after int64
			f.in(f.A, func(ctx context.Context, sc *store.Scope) (err error) {
				if before, _, err = f.m.usageCounts(ctx, sc, f.A, sub, prevFirst, prevLast); err != nil {
					return err
				}
				after, _, err = f.m.usageCounts(ctx, sc, f.A, sub, boundary, periodStart(starts, k+1).AddDays(-1))
				return err
			})
			inPrev := offset < 0 && !at.Before(prevFirst.In(paris))
			if (before == 1) != inPrev || (after == 1) != (offset >= 0) {
				rt.Fatalf("B5: event at %s (Paris %s), period from %s: previous %d, new %d", at.UTC(), at.In(paris), boundary, before, after)
			}
		})
	})
}

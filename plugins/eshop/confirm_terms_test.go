package eshop

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

// The terms the fake host serves in these tests: Markdown with headings, paragraphs, an
// ordered and a bulleted list, emphasis and a link, in Slovak with every letter of its own.
const (
	termsSK = "# Všeobecné obchodné podmienky e-shopu\n\n" +
		"## 1. Úvodné ustanovenia\n\n" +
		"Kupujúci uzatvára zmluvu *zaplatením* objednávky; ďalšie údaje nájdete na [webe](https://unilabs.sk/podmienky).\n\n" +
		"## 2. Odstúpenie od zmluvy\n\n" +
		"1. Spotrebiteľ môže odstúpiť do štrnástich dní.\n" +
		"2. Vyšetrenie už vykonané sa nevracia.\n\n" +
		"- Reklamácie vybavujeme do tridsiatich dní.\n" +
		"- Žiadosť pošlite e-mailom alebo poštou.\n\n" +
		"Ťažké, ľahké, účinné, päť, ôsmy, ňufák, dĺžka, vŕba, ýý, éé, íí, áá, čč, šš, žž.\n"
	termsFR = "# Conditions générales de la boutique\n\nL'acheteur peut se rétracter dans les quatorze jours.\n"
)

// payAndConfirm pays order o through the sandbox gateway and returns its confirmation.
func (f *payFixture) payAndConfirm(o *Order) sdk.Message {
	f.t.Helper()
	p := f.start(f.A, o)
	notices, err := sandboxOf(f.A).Decide(p.GatewayRef, true)
	if err != nil || len(notices) != 1 {
		f.t.Fatalf("%d notices, %v", len(notices), err)
	}
	if res := f.notify(f.A, "sandbox", notices[0]); res.Status != 200 {
		f.t.Fatalf("notify: %d", res.Status)
	}
	var out []sdk.Message
	for _, m := range f.sent(tmplOrderPaid) {
		if m.Link == "/eshop/orders/"+o.ID {
			out = append(out, m)
		}
	}
	if len(out) != 1 {
		f.t.Fatalf("%d confirmations of order %s", len(out), o.Number)
	}
	return out[0]
}

// setOrder changes, before it is paid, an order's language, what vouchers paid of it, and the
// floor of every collection point of the tenant.
func (f *payFixture) setOrder(o *Order, lang string, voucherMinor int64, floor string) {
	f.t.Helper()
	o.Locale, o.VoucherMinor, o.DueMinor = lang, voucherMinor, o.TotalMinor-voucherMinor
	err := f.m.In(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
		if _, err := sc.Update((*Order)(nil)).Set("locale = ?", lang).Set("voucher_minor = ?", o.VoucherMinor).Set("due_minor = ?", o.DueMinor).
			Where("id = ?", o.ID).Exec(ctx); err != nil {
			return err
		}
		_, err := sc.Update((*Point)(nil)).Set("floor = ?", floor).Where("active = ?", true).Exec(ctx)
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// mailBody is the confirmation e-mail as the host renders it, in lang.
func (f *payFixture) mailBody(lang string, msg sdk.Message) string {
	return f.m.Msgs.For(lang).T("mail."+tmplOrderPaid+".body", kvOf(msg.Data)...)
}

// TestConfirmationCarriesTheFullTerms (E5): the order confirmation carries the full terms in
// force on a durable medium: besides the invoice, a PDF of the terms in the order's language,
// named with their version in that language, holding the whole text (headings, paragraphs,
// list items, Slovak letters intact); the e-mail names the version and the attachment.
func TestConfirmationCarriesTheFullTerms(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := newPayFixture(t, b)
		f.h.Host.TermsBodies = map[string]string{"sk": termsSK, "fr": termsFR}
		msg := f.payAndConfirm(f.order)
		if len(msg.Attachments) != 2 {
			t.Fatalf("E5: %d attachments", len(msg.Attachments))
		}
		inv, terms := msg.Attachments[0], msg.Attachments[1]
		if !strings.Contains(pdftotext(t, inv.Data), "Krvný obraz") {
			t.Error("E5: the first attachment is not the invoice")
		}
		if terms.Name != "obchodne-podmienky-v1.pdf" || terms.ContentType != "application/pdf" {
			t.Fatalf("E5: terms attachment %q %q", terms.Name, terms.ContentType)
		}
		text := pdftotext(t, terms.Data)
		flatText := strings.Join(strings.Fields(text), " ")
		for _, want := range []string{
			"Všeobecné obchodné podmienky e-shopu", "Verzia 1", "1. Úvodné ustanovenia",
			"Kupujúci uzatvára zmluvu zaplatením objednávky; ďalšie údaje nájdete na webe (https://unilabs.sk/podmienky).",
			"2. Odstúpenie od zmluvy", "1. Spotrebiteľ môže odstúpiť do štrnástich dní.", "2. Vyšetrenie už vykonané sa nevracia.",
			"• Reklamácie vybavujeme do tridsiatich dní.", "• Žiadosť pošlite e-mailom alebo poštou.",
			"Ťažké, ľahké, účinné, päť, ôsmy, ňufák, dĺžka, vŕba, ýý, éé, íí, áá, čč, šš, žž.",
		} {
			if !strings.Contains(flatText, want) {
				t.Errorf("E5: the terms PDF lacks %q:\n%s", want, text)
			}
		}
		if strings.Contains(text, "*") || strings.Contains(text, "##") || strings.Contains(text, "Conditions") {
			t.Errorf("E5: the terms PDF shows Markdown or another language:\n%s", text)
		}
		body := f.mailBody("sk", msg)
		for _, want := range []string{"Všeobecné obchodné podmienky e-shopu", "verzia 1", "v prílohe", "obchodne-podmienky-v1.pdf"} {
			if !strings.Contains(body, want) {
				t.Errorf("E5: the e-mail lacks %q:\n%s", want, body)
			}
		}
		if strings.Contains(body, "na stránke e-shopu") {
			t.Errorf("E5: the e-mail still sends the reader to the shop for the text:\n%s", body)
		}

		// An order made in French: the French text, under a French name.
		o := f.newOrder(f.A, "2026-000018")
		f.setOrder(o, "fr", 500, "2")
		msg = f.payAndConfirm(o)
		if len(msg.Attachments) != 2 || msg.Attachments[1].Name != "conditions-generales-v1.pdf" {
			t.Fatalf("E5: French attachments %d %q", len(msg.Attachments), msg.Attachments[len(msg.Attachments)-1].Name)
		}
		text = pdftotext(t, msg.Attachments[1].Data)
		if !strings.Contains(text, "Conditions générales de la boutique") || !strings.Contains(text, "rétracter dans les quatorze jours") ||
			strings.Contains(text, "Kupujúci") {
			t.Errorf("E5: the French terms PDF:\n%s", text)
		}
		if body := f.mailBody("fr", msg); !strings.Contains(body, "conditions-generales-v1.pdf") || !strings.Contains(body, "Conditions générales de la boutique") {
			t.Errorf("E5: the French e-mail:\n%s", body)
		}
	})
}

// TestConfirmationWording (E5): the confirmation names a collection point's floor once —
// words the operator wrote ("1. poschodie", "prízemie") as they are, a bare number with the
// floor's label — and says nothing of vouchers when none paid (no "paid by voucher: 0,00 €"),
// in fr, pl and sk.
func TestConfirmationWording(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := newPayFixture(t, b)
		for i, c := range []struct{ lang, floor string }{{"sk", "prízemie"}, {"fr", "1. poschodie"}, {"pl", "3"}} {
			o := f.order
			if i > 0 {
				o = f.newOrder(f.A, fmt.Sprintf("2026-00010%d", i))
			}
			f.setOrder(o, c.lang, 0, c.floor)
			msg := f.payAndConfirm(o)
			loc := f.m.Msgs.For(c.lang)
			points := fmt.Sprint(msg.Data["Points"])
			labelled := loc.T("eshop.pay.mail.floor", "Floor", c.floor)
			if c.floor == "3" {
				if !strings.Contains(points, labelled) {
					t.Errorf("E5 %s: a bare floor number without its label: %q", c.lang, points)
				}
			} else if strings.Contains(points, labelled) || !strings.Contains(points, ", "+c.floor) {
				t.Errorf("E5 %s: floor %q doubled or lost: %q", c.lang, c.floor, points)
			}
			if !strings.Contains(points, loc.T("eshop.pay.mail.room", "Room", "214")) {
				t.Errorf("E5 %s: the room lost its label: %q", c.lang, points)
			}
			body := f.mailBody(c.lang, msg)
			zero := locales.FormatMoney(c.lang, 0, "EUR")
			paid := locales.FormatMoney(c.lang, o.TotalMinor, "EUR")
			if strings.Contains(body, zero) || !strings.Contains(body, paid) {
				t.Errorf("E5 %s: the payment line (no voucher) shows %s or lacks %s:\n%s", c.lang, zero, paid, body)
			}
		}
		// With vouchers: both amounts when both paid; no gateway amount of 0 when vouchers paid all.
		for _, lang := range []string{"fr", "pl", "sk"} {
			loc := f.m.Msgs.For(lang)
			part := paymentLine(loc, lang, &Order{TotalMinor: 3600, VoucherMinor: 500, DueMinor: 3100, Currency: "EUR"})
			if !strings.Contains(part, locales.FormatMoney(lang, 500, "EUR")) || !strings.Contains(part, locales.FormatMoney(lang, 3100, "EUR")) {
				t.Errorf("E5 %s: vouchers and gateway: %q", lang, part)
			}
			all := paymentLine(loc, lang, &Order{TotalMinor: 3600, VoucherMinor: 3600, Currency: "EUR"})
			if strings.Contains(all, locales.FormatMoney(lang, 0, "EUR")) || all == paymentLine(loc, lang, &Order{TotalMinor: 3600, DueMinor: 3600, Currency: "EUR"}) {
				t.Errorf("E5 %s: paid by vouchers alone: %q", lang, all)
			}
		}
	})
}

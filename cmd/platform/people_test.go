package main

import (
	"context"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/tenancy"
)

// TestEshopRegistrationE2: on the e-shop's tenant (unilabs, the customers' portal), the
// registration form asks what E2 lists — permanent address, temporary address, rodné číslo if
// assigned, sex, nationality (countries by name, in the page's language) — and the core's
// declarations; missing mandatory fields and a rodné číslo of another birth date are each
// refused next to their field; a complete registration keeps them, and the account page lists
// the data kept (E15) in words, not codes.
func TestEshopRegistrationE2(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, be dbtest.Backend) {
		p := startPlatformOn(t, be, filepath.Join("..", "..", "tenants"))
		b := p.browser("unilabs.localhost")
		code, page := b.do("GET", "/register", nil)
		if code != 200 {
			t.Fatalf("form: %d", code)
		}
		for _, want := range []string{`name="address_street"`, `name="address_country"`, `name="temp_address_street"`, `name="birth_number"`,
			`name="sex"`, `name="nationality"`, `name="first_name"`, `name="last_name"`, `<option value="SK">Slovensko</option>`, "Rodné číslo", `name="declare_capacity"`, `name="declare_marriage"`} {
			if !strings.Contains(page, want) {
				t.Errorf("the form lacks %s", want)
			}
		}
		form := url.Values{"email": {"jana@example.org"}, "password": {"Correct-Horse-42"}, "password2": {"Correct-Horse-42"},
			"name": {"Jana Nová"}, "first_name": {"Jana"}, "last_name": {"Nová"}, "birth_date": {"1980-01-02"}, "accept_terms": {"yes"},
			"consent_data_processing": {"yes"}, "declare_capacity": {"yes"}, "birth_number": {"805101/0000"}} // a woman's rodné číslo (month + 50)
		code, page = b.post("/register", "/register", form)
		if code != 422 {
			t.Fatalf("incomplete: %d", code)
		}
		for _, f := range []string{"address_street", "address_town", "address_postcode", "address_country", "sex", "nationality", "birth_number"} {
			if !regexp.MustCompile(`id="e-` + f + `"`).MatchString(page) {
				t.Errorf("no error next to %s", f)
			}
		}
		for k, v := range map[string]string{"address_street": "Lipová 12", "address_town": "Bratislava", "address_postcode": "811 01",
			"address_country": "SK", "sex": "female", "nationality": "CZ", "birth_date": "1980-01-01"} {
			form.Set(k, v)
		}
		if code, page = b.post("/register", "/register", form); code != 200 {
			t.Fatalf("complete: %d\n%s", code, page)
		}
		link, _ := url.Parse(linkRe.FindString(p.lastMailTo(t, "unilabs", "jana@example.org")))
		if code, _ := b.post(link.RequestURI(), "/verify", url.Values{"token": {link.Query().Get("token")}}); code != 200 {
			t.Fatalf("verify: %d", code)
		}
		ctx := context.Background()
		d, err := db.Open(ctx, db.Config{DSN: p.dsn, DataDir: p.data})
		if err != nil {
			t.Fatal(err)
		}
		un, _ := (&tenancy.Store{DB: d}).BySlug(ctx, "unilabs")
		u, err := accounts.NewService(d, authz.NewService(d)).ByEmail(ctx, un.ID, "jana@example.org")
		d.Close()
		if err != nil || u.Profile["birth_number"] != "8051010000" || u.Profile["nationality"] != "CZ" || u.Profile["address_country"] != "SK" {
			t.Fatalf("kept: %v %+v", err, u)
		}
		b.login("jana@example.org", "Correct-Horse-42")
		_, page = b.do("GET", "/account", nil)
		for _, want := range []string{"Česko", "Lipová 12", "Žena"} {
			if !strings.Contains(page, want) {
				t.Errorf("the account page's data lacks %q", want)
			}
		}
	})
}

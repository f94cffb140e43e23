package server_test

import (
	"context"
	"net/url"
	"testing"

	"carenet.dev/platform/core/db/dbtest"
)

// TestSecretairesComplaintsNeedIdentifierEmailAndDocuments: with the secretaires tenant's rules
// a complaint states up front what it must carry and that an amicable settlement is sought
// before any court; without the client identifier, the e-mail address or a supporting
// document it cannot be lodged: each missing one is named next to its field and nothing is
// stored; with all three it is received (B11, P10 [001 art. 9]).
func TestSecretairesComplaintsNeedIdentifierEmailAndDocuments(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		e := newEnv(t, b)
		ctx := context.Background()
		st := e.tenant("secretaires")
		sec := e.client("secretaires.localhost")
		form := sec.get("/complaints/new?module=billing")
		mustContain(t, form, "doit indiquer votre identifiant client et votre adresse e-mail et être appuyée des pièces justificatives",
			"nous recherchons d’abord avec vous une solution amiable, avant toute saisine du tribunal compétent")
		pl := e.client("secretaires.localhost")
		pl.lang = "pl"
		mustContain(t, pl.get("/complaints/new?module=billing"), "polubownego rozwiązania", "identyfikator klienta i adres e-mail")
		sk := e.client("secretaires.localhost")
		sk.lang = "sk"
		mustContain(t, sk.get("/complaints/new?module=billing"), "zmierlivé riešenie", "identifikátor klienta a e-mailovú adresu")
		// Another tenant's rules say nothing of it.
		mustNotContain(t, e.client("elekarze.localhost").get("/complaints/new"), "polubownego", "amiable")

		stored := func() int {
			l, err := e.srv.Complaints.Queue(ctx, st.ID, "")
			if err != nil {
				t.Fatal(err)
			}
			return len(l)
		}
		full := url.Values{"module": {"billing"}, "category": {"billing"}, "body": {"Facture de novembre erronée"},
			"reply_to": {"cabinet@example.org"}, "client_ref": {"CLI-0042"}}
		files := map[string][]byte{"facture.pdf": pdf}
		without := func(field string) url.Values {
			v := url.Values{}
			for k, vs := range full {
				if k != field {
					v[k] = vs
				}
			}
			return v
		}
		for _, c := range []struct {
			name   string
			fields url.Values
			files  map[string][]byte
			want   []string
		}{
			{"nothing", url.Values{"module": {"billing"}, "category": {"billing"}, "body": {"Facture erronée"}}, nil,
				[]string{`id="e-reply_to"`, `id="e-client_ref"`, `id="e-files"`}},
			{"no e-mail", without("reply_to"), files, []string{`id="e-reply_to"`}},
			{"no identifier", without("client_ref"), files, []string{`id="e-client_ref"`, "Indiquez votre identifiant client"}},
			{"no document", full, nil, []string{`id="e-files"`, "Joignez les pièces justificatives"}},
		} {
			r := sec.postMultipart("/complaints/new?module=billing", "/complaints", c.fields, c.files)
			if r.Status != 422 {
				t.Fatalf("%s: %d", c.name, r.Status)
			}
			mustContain(t, r, c.want...)
			if n := stored(); n != 0 {
				t.Fatalf("%s: %d complaints stored", c.name, n)
			}
		}
		r := sec.postMultipart("/complaints/new?module=billing", "/complaints", full, files)
		if r.Status != 200 || stored() != 1 {
			t.Fatalf("a complete complaint: %d, %d stored", r.Status, stored())
		}
		mustContain(t, r, "Réclamation reçue")
	})
}

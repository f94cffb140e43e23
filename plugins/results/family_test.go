package results

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

// child is a minor as the core gives him (sdk.Dependant), coming of age at 18.
func child(id, first, last, birthName, birth string) sdk.Dependant {
	b, _ := time.Parse("2006-01-02", birth)
	return sdk.Dependant{ID: id, FirstName: first, LastName: last, BirthName: birthName, BirthDate: birth, Relationship: "parent",
		LegalStatus: "minor", OfAgeOn: b.AddDate(18, 0, 0).Format("2006-01-02"), Represented: true}
}

// TestParentSeesHisChildrensResultsUntilTheyComeOfAge (P2, P3 "a patient sees only his own
// results and his dependants'", R4, R9, issue 12.9): a parent sees, on his results page and
// per person, the results of each child he represents, matched to the child's identity by
// the account rule (names in any order and case, birth name, birth date), and opens and
// downloads them; each access is recorded with the parent as actor and the child as subject.
// He sees no other child's results, nor his own through these routes; another patient and
// another tenant see none of it; several records of one identity are not guessed between; an
// adult under guardianship stays represented until he holds an account of his own (an
// account holder has full legal capacity); the access ends the day a child comes of age
// (the module's clock) and when the parent removes him.
func TestParentSeesHisChildrensResultsUntilTheyComeOfAge(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b) // now: 2026-11-20
		f.api(f.A, f.incoming("R-LEA", "P-LEA", "DURAND", "Léa", "", "2015-04-09", ""))
		f.api(f.A, f.incoming("R-HUGO", "P-HUGO", "Durand", "Hugo", "", "2008-11-25", ""))
		f.api(f.A, f.incoming("R-PAUL", "P-PAUL", "Martin", "Paul", "Martin", "1960-05-05", "")) // under guardianship
		f.api(f.A, f.incoming("R-NOE", "P-NOE", "Durand", "Noé", "", "2017-01-01", ""))          // not his child
		f.api(f.A, f.incoming("R-TWIN", "P-TWIN1", "Petit", "Jules", "", "2016-02-02", ""))
		f.api(f.A, f.incoming("R-TWIN2", "P-TWIN2", "Petit", "Jules", "", "2016-02-02", "")) // the LIS has him twice
		f.api(f.A, f.incoming("R-MARIE", "P-MARIE", "Durand", "Marie", "Martin", "1985-03-02", ""))
		parent := f.patient(f.A, "u-marie", "Marie Durand", "Martin", "1985-03-02")
		other := f.patient(f.A, "u-jean", "Jean Dupont", "Dupont", "1970-01-01")
		ward := child("d-paul", "Paul", "Martin", "", "1960-05-05")
		ward.LegalStatus, ward.Relationship, ward.OfAgeOn = "deprived", "guardian", ""
		f.h.Host.Dependants[f.A.ID] = map[string][]sdk.Dependant{parent.ID: {
			child("d-lea", "léa", "Durand", "", "2015-04-09"), // as the parent typed her
			child("d-hugo", "Hugo", "DURAND", "Durand", "2008-11-25"),
			ward,
			child("d-jules", "Jules", "Petit", "", "2016-02-02"),
			child("d-zoe", "Zoé", "Durand", "", "2020-07-07"), // no record yet
		}}
		lea, hugo, paul := f.reportOf(f.A, "R-LEA").ID, f.reportOf(f.A, "R-HUGO").ID, f.reportOf(f.A, "R-PAUL").ID
		noe, twin, own := f.reportOf(f.A, "R-NOE").ID, f.reportOf(f.A, "R-TWIN").ID, f.reportOf(f.A, "R-MARIE").ID

		// The results page: his own, then each person he represents with hers.
		page := f.get(f.A, parent, "/results/mine")
		body := string(page.Body)
		if page.Status != 200 {
			t.Fatalf("mine: %d", page.Status)
		}
		for _, want := range []string{"/results/r/" + own, "Résultats des personnes que je représente", "léa Durand", "/results/family/r/" + lea,
			"Hugo DURAND", "/results/family/r/" + hugo, "Accès jusqu’à sa majorité, le 25/11/2026.", "Paul Martin", "/results/family/r/" + paul,
			"Plusieurs dossiers du laboratoire portent son identité", "Zoé Durand", "Aucun dossier du laboratoire ne porte encore son identité"} {
			if !strings.Contains(body, want) {
				t.Errorf("the results page lacks %q", want)
			}
		}
		if strings.Index(body, "/results/r/"+own) > strings.Index(body, "léa Durand") {
			t.Errorf("the family comes after the patient's own results")
		}
		for _, bad := range []string{noe, twin, "/results/family/r/" + own} {
			if strings.Contains(body, bad) {
				t.Errorf("the results page shows %q", bad)
			}
		}

		// In Polish and Slovak too (P4).
		for lang, want := range map[string]string{"pl": "Wyniki osób, które reprezentuję", "sk": "Výsledky osôb, ktoré zastupujem"} {
			ten := f.A
			ten.Locale = lang
			if body := string(f.get(ten, parent, "/results/mine").Body); !strings.Contains(body, want) ||
				!strings.Contains(body, "/results/family/r/"+lea) {
				t.Errorf("%s: the family part lacks %q", lang, want)
			}
		}

		// He opens and downloads Léa's report; each access is his, about her.
		if r := f.get(f.A, parent, "/results/family/r/"+lea); r.Status != 200 || !strings.Contains(string(r.Body), "Glycémie") ||
			!strings.Contains(string(r.Body), `href="/results/mine"`) {
			t.Fatalf("Léa's report: %d %s", r.Status, r.Body)
		}
		if r := f.get(f.A, parent, "/results/family/r/"+lea+"/pdf?download=1"); r.Status != 200 ||
			!strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment") {
			t.Fatalf("Léa's PDF: %d %v", r.Status, r.Header)
		}
		if r := f.get(f.A, parent, "/results/family/r/"+paul); r.Status != 200 {
			t.Fatalf("his ward's report: %d", r.Status)
		}
		var leaRecord string
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select((*LabPatient)(nil)).Column("id").Where("lp.lab_patient_id = ?", "P-LEA").Scan(ctx, &leaRecord)
		})
		n := 0
		for _, a := range f.h.Host.Audits {
			if a.Value.Resource != "result:"+lea || !accessActions[a.Value.Action] {
				continue
			}
			n++
			if a.Scope.UserID != parent.ID || a.Value.Subject != "labpatient:"+leaRecord ||
				(a.Value.Action != "results.view" && a.Value.Action != "results.download") {
				t.Errorf("access to Léa's report recorded as %+v by %q", a.Value, a.Scope.UserID)
			}
		}
		if n != 2 {
			t.Errorf("%d records of 2 accesses to Léa's report", n)
		}

		// Nothing else through these routes: another child, a record of an ambiguous
		// identity, his own report, a malformed id; nor for another patient or tenant.
		for _, id := range []string{noe, twin, own, "not-an-id"} {
			for _, p := range []string{"/results/family/r/" + id, "/results/family/r/" + id + "/pdf"} {
				if r := f.get(f.A, parent, p); r.Status != http.StatusNotFound {
					t.Errorf("parent GET %s: %d", p, r.Status)
				}
			}
		}
		before := len(f.h.Host.Audits)
		if r := f.get(f.A, other, "/results/family/r/"+lea); r.Status != http.StatusNotFound {
			t.Errorf("another patient reads Léa's report: %d", r.Status)
		}
		ghost := &sdk.User{ID: parent.ID, Roles: []string{"user"}}
		if r := f.get(f.B, ghost, "/results/family/r/"+lea); r.Status != http.StatusNotFound {
			t.Errorf("tenant B reads tenant A's child's report: %d", r.Status)
		}
		if len(f.h.Host.Audits) != before {
			t.Errorf("a refused access was recorded")
		}

		// Paul opens his own account (he has his legal capacity back): his results are his
		// alone, whatever his former guardian still declares.
		f.patient(f.A, "u-paul", "Paul Martin", "Martin", "1960-05-05")
		if r := f.get(f.A, parent, "/results/family/r/"+paul); r.Status != http.StatusNotFound {
			t.Errorf("the report of a person with his own account: %d", r.Status)
		}
		if body := string(f.get(f.A, parent, "/results/mine").Body); !strings.Contains(body, "Cette personne a son propre compte") ||
			strings.Contains(body, "/results/family/r/"+paul) {
			t.Errorf("the page still shows Paul's results to his former guardian")
		}

		// Hugo comes of age on 25 November, midnight in Paris: his results are his alone.
		f.now = time.Date(2026, 11, 24, 22, 59, 0, 0, time.UTC)
		if r := f.get(f.A, parent, "/results/family/r/"+hugo); r.Status != 200 {
			t.Fatalf("the eve of Hugo's 18th birthday: %d", r.Status)
		}
		f.now = time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC)
		if r := f.get(f.A, parent, "/results/family/r/"+hugo); r.Status != http.StatusNotFound {
			t.Errorf("Hugo's report on his 18th birthday: %d", r.Status)
		}
		if body := string(f.get(f.A, parent, "/results/mine").Body); strings.Contains(body, "Hugo") || !strings.Contains(body, "léa Durand") {
			t.Errorf("the page after Hugo came of age still shows him, or lost Léa")
		}
		// Removed from the parent's account: Léa's access ends at once.
		f.h.Host.Dependants[f.A.ID][parent.ID] = nil
		if r := f.get(f.A, parent, "/results/family/r/"+lea); r.Status != http.StatusNotFound {
			t.Errorf("Léa's report after her removal: %d", r.Status)
		}
		if body := string(f.get(f.A, parent, "/results/mine").Body); strings.Contains(body, "Résultats des personnes que je représente") {
			t.Errorf("the family part stays without anyone represented")
		}
		f.noMissingMessages()
	})
}

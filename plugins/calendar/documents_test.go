package calendar

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

// C14: once the doctor asks for documents confirming the booking data, the patient sees the
// request, with its date and the doctor's note, on his visit's page and on the visit in his
// upcoming visits; before the request neither shows it, and another visit never does.
func TestPatientSeesTheDocumentsRequest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f, mine, _, _, _ := agendaFixture(t, b)
		// Zofia's visit was booked for her by someone else; her account names her PESEL
		// and e-mail, so it is hers (C6).
		zofia := &sdk.User{ID: "zofia", Email: "zofia@example.org", Name: "Zofia Nowak", Roles: []string{"patient"},
			Profile: map[string]string{"pesel": "85030212344"}}
		const asked = "Lekarz prosi o dokumenty potwierdzające dane podane przy rezerwacji"
		page := func(path string) string {
			res := f.send(zofia, "GET", path, nil)
			if res.Status != http.StatusOK {
				t.Fatalf("%s: %d", path, res.Status)
			}
			return string(res.Body)
		}
		if body := page("/calendar/visits/" + mine.ID); strings.Contains(body, asked) {
			t.Fatalf("a request shows before the doctor asks:\n%s", body)
		}
		doc := &sdk.User{ID: "doc1", Roles: []string{"doctor"}}
		if res := f.send(doc, "POST", "/calendar/agenda/"+mine.ID+"/documents", url.Values{"note": {"Dowód osobisty & legitymacja"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("the doctor asks: %d", res.Status)
		}
		when := f.bookingByID(mine.ID).DocumentsRequestedAt.Time
		for _, path := range []string{"/calendar/visits/" + mine.ID, "/calendar/visits"} {
			body := page(path)
			if strings.Count(body, asked) != 1 || !strings.Contains(body, "Uwagi lekarza") ||
				!strings.Contains(body, "Dowód osobisty &amp; legitymacja") || strings.Contains(body, when.Format("2006-01-02")) {
				t.Fatalf("%s does not show the request in words:\n%s", path, body)
			}
		}
	})
}

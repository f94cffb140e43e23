package results

import (
	"regexp"
	"strings"
	"testing"

	"carenet.dev/platform/plugins/kit/store/storetest"
)

// identifierRe finds an internal identifier a person should never read: "analyte:HB",
// "result:<uuid>", "patient:DEMO-P-0001", "labpatient:…", "user:…".
var identifierRe = regexp.MustCompile(`\b(analyte|result|patient|labpatient|user|role|complaint|module|api_key|permission|tenant|template|terms|job|maintenance):[A-Za-z0-9_-]`)

// TestAccessLogNamesWhatWasReadInWords (issue 12.5, R9): the patient's access log names each
// access by the report's collection date in his language and a trend by the analyte's name,
// as recorded in the audit detail when it happened; no identifier is shown, in fr, pl or sk.
func TestAccessLogNamesWhatWasReadInWords(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.api(f.A, f.incoming("R-1", "P-1", "Durand", "Marie", "Martin", "1985-03-02", ""))
		marie := f.patient(f.A, "u-marie", "Marie Durand", "Martin", "1985-03-02")
		id := f.reportIDs(f.A)[0]
		for _, p := range []string{"/results/r/" + id, "/results/r/" + id + "/pdf?download=1", "/results/trend/HB"} {
			if res := f.get(f.A, marie, p); res.Status != 200 {
				t.Fatalf("%s: %d", p, res.Status)
			}
		}
		for _, a := range f.h.Host.Audits {
			if a.Value.Action == "results.trend" && a.Value.Detail["analyte"] != "Hémoglobine" {
				t.Errorf("trend recorded without the analyte's name: %+v", a.Value.Detail)
			}
			if a.Value.Action == "results.view" && a.Value.Detail["collected_date"] != "2026-11-19" {
				t.Errorf("view recorded without the collection date: %+v", a.Value.Detail)
			}
		}
		for lang, want := range map[string][]string{
			"fr": {"Compte rendu du 19/11/2026", "Hémoglobine"},
			"pl": {"Wyniki z dnia 19.11.2026", "Hémoglobine"},
			"sk": {"Výsledky zo dňa 19. 11. 2026", "Hémoglobine"},
		} {
			ten := f.A
			ten.Locale = lang
			res := f.get(ten, marie, "/results/access")
			body := string(res.Body)
			for _, w := range want {
				if !strings.Contains(body, w) {
					t.Errorf("%s: access log lacks %q:\n%s", lang, w, body)
				}
			}
			if m := identifierRe.FindString(body); m != "" {
				t.Errorf("%s: access log shows the identifier %q:\n%s", lang, m, body)
			}
		}
		f.noMissingMessages()
	})
}

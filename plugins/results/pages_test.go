package results

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit/pdfdoc/pdftest"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/host"
)

// pdftotext reads a PDF back with poppler's pdftotext, keeping the layout.
func pdftotext(t *testing.T, pdf []byte) string { return pdftest.Text(t, pdf, true) }

// lineWith is the first line of text holding every one of words, or "".
func lineWith(text string, words ...string) string { return pdftest.LineWith(text, words...) }

// TestPrintedReportInTheReadersLanguage: beside the lab's signed original, the module
// prints the stored report in the reader's language: its words, dates, numbers and file
// name; every column as wide as its content (a row reads whole on one line); the same flags
// as the page, "normal" included; the lab's validating biologist (issue 12.6, R4).
func TestPrintedReportInTheReadersLanguage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		in := f.incoming("R-1", "P-1", "Durand", "Marie", "Martin", "1985-03-02", "")
		in.ValidatedBy = &IncomingValidator{Name: "Dr Claire Moreau", Qualification: "biologiste médicale"}
		in.Values = append(in.Values, IncomingValue{Code: "CRP", Label: "Protéine C réactive", Value: "<0.5", Unit: "mg/L",
			RefText: "inférieur à 5 chez l’adulte", Flag: "N"})
		if res, out := f.api(f.A, in); res.Status != 201 {
			t.Fatalf("import: %d %v", res.Status, out)
		}
		marie := f.patient(f.A, "u-marie", "Marie Durand", "Martin", "1985-03-02")
		id := f.reportIDs(f.A)[0]
		want := map[string]struct{ title, normal, high, date, file string }{
			"fr": {"Compte rendu d’analyses", "Normal", "Élevé", "19/11/2026 08:30", "compte-rendu-19-11-2026.pdf"},
			"pl": {"Sprawozdanie z badań", "W normie", "Wysoki", "19.11.2026 08:30", "sprawozdanie-19-11-2026.pdf"},
			"sk": {"Výsledkový list", "V norme", "Vysoký", "19. 11. 2026 08:30", "vysledkovy-list-19-11-2026.pdf"},
		}
		for lang, w := range want {
			ten := f.A
			ten.Locale = lang
			res := f.get(ten, marie, "/results/r/"+id+"/print?download=1")
			if res.Status != 200 || res.Header.Get("Content-Type") != "application/pdf" ||
				!strings.Contains(res.Header.Get("Content-Disposition"), w.file) {
				t.Fatalf("%s printout: %d %v", lang, res.Status, res.Header)
			}
			text := pdftotext(t, res.Body)
			for _, s := range []string{w.title, w.date, "DURAND Marie", "Dr Claire Moreau, biologiste médicale"} {
				if !strings.Contains(text, s) {
					t.Errorf("%s printout lacks %q:\n%s", lang, s, text)
				}
			}
			// One row, one line: the value in the reader's numbers, the whole range, the flag.
			if l := lineWith(text, "Hémoglobine", "13,9", "g/dL", "12 – 16", w.normal); l == "" {
				t.Errorf("%s: no whole line for Hémoglobine 13,9 g/dL 12 – 16 %s:\n%s", lang, w.normal, text)
			}
			if l := lineWith(text, "Glycémie", "6,4", "3,9 – 6,1", w.high); l == "" {
				t.Errorf("%s: no whole line for Glycémie 6,4 3,9 – 6,1 %s:\n%s", lang, w.high, text)
			}
			if l := lineWith(text, "Protéine C réactive", "<0,5", "inférieur à 5 chez l’adulte", w.normal); l == "" {
				t.Errorf("%s: the text range is cut:\n%s", lang, text)
			}
			if strings.Contains(text, "13.9") || strings.Contains(text, "0.5") {
				t.Errorf("%s: a value in another language's numbers:\n%s", lang, text)
			}
			// The page offers both documents, and names the lab's as its signed original.
			page := string(f.get(ten, marie, "/results/r/"+id).Body)
			for _, s := range []string{"/results/r/" + id + "/print", "/results/r/" + id + "/pdf",
				f.m.Msgs.For(lang).T("results.report.original"), "Dr Claire Moreau", "13,9", ">" + w.normal + "<"} {
				if !strings.Contains(page, s) {
					t.Errorf("%s report page lacks %q", lang, s)
				}
			}
		}
		// Each printout read is recorded as the lab's PDF is (R9).
		if n := f.audits("results.download"); n != 3 {
			t.Fatalf("%d download records for 3 printouts", n)
		}
		f.noMissingMessages()
	})
}

// multipartPost posts fields (and a PDF when pdf is not nil) as the upload form does.
func (f *fixture) multipartPost(ten sdk.Tenant, u *sdk.User, path string, fields map[string]string, pdf []byte) *sdk.Response {
	f.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if pdf != nil {
		fw, _ := mw.CreateFormFile("pdf", "cr.pdf")
		fw.Write(pdf)
	}
	mw.Close()
	res, err := f.h.Send(context.Background(), ten, u, &sdk.Request{Method: "POST", Path: path,
		Header: http.Header{"Content-Type": {mw.FormDataContentType()}}, Body: body.Bytes()})
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

// TestUploadFormTakesValuesPerRow: the staff upload form takes the values one row per
// analyte, with more rows on request and no script; numbers are read and shown in the
// page's language; an empty required cell says "required" next to it; a collection given
// as a day is shown without a time (issue 12.8, R3).
func TestUploadFormTakesValuesPerRow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		staff := f.user(f.A, sdk.User{ID: "u-staff", Name: "Lab", Roles: []string{"user", "lab_staff"}})
		form := string(f.get(f.A, staff, "/results/staff/upload").Body)
		if !strings.Contains(form, `name="code.3"`) || strings.Contains(form, `name="code.4"`) || strings.Contains(form, "<textarea") {
			t.Fatalf("the form does not offer four rows of cells:\n%s", form)
		}
		// More rows: what was typed stays, nothing is stored.
		more := f.multipartPost(f.A, staff, "/results/staff/upload", map[string]string{"rows": "4", "more": "1", "code.0": "FER", "last_name": "Durand"}, nil)
		if page := string(more.Body); more.Status != 200 || !strings.Contains(page, `name="code.7"`) || !strings.Contains(page, `value="FER"`) ||
			!strings.Contains(page, `value="Durand"`) || strings.Contains(page, `class="error"`) {
			t.Fatalf("more rows: %d\n%s", more.Status, page)
		}
		pdf := f.incoming("U-1", "P-9", "Durand", "Marie", "Martin", "1985-03-02", "").PDF
		fields := map[string]string{"rows": "4", "report_id": "U-1", "lab_patient_id": "P-9", "first_name": "Marie",
			"birth_date": "1985-03-02", "collected_at": "2026-11-19", "status": "final",
			"code.0": "FER", "low.1": "abc", "code.1": "HB", "label.1": "Hémoglobine", "value.1": "14.1"}
		bad := f.multipartPost(f.A, staff, "/results/staff/upload", fields, pdf)
		required := f.m.Msgs.For("fr").T("results.err.required")
		page := string(bad.Body)
		for _, id := range []string{"e-last_name", "e-label-0", "e-value-0", "e-low-1"} {
			if !strings.Contains(page, `id="`+id+`"`) {
				t.Errorf("no error %s:\n%s", id, page)
			}
		}
		if bad.Status != http.StatusUnprocessableEntity || !strings.Contains(page, `<p class="error" id="e-label-0">`+required+`</p>`) ||
			!strings.Contains(page, f.m.Msgs.For("fr").T("results.err.invalid_number")) || len(f.reportIDs(f.A)) != 0 {
			t.Fatalf("refused upload: %d\n%s", bad.Status, page)
		}
		fields["last_name"], fields["label.0"], fields["value.0"], fields["unit.0"] = "Durand", "Ferritine", "12,5", "µg/L"
		fields["low.0"], fields["high.0"], fields["flag.0"], fields["low.1"], fields["high.1"] = "15", "150,5", "L", "12", "16"
		if ok := f.multipartPost(f.A, staff, "/results/staff/upload", fields, pdf); ok.Status != http.StatusSeeOther {
			t.Fatalf("upload: %d\n%s", ok.Status, ok.Body)
		}
		ids := f.reportIDs(f.A)
		if len(ids) != 1 {
			t.Fatalf("%d reports", len(ids))
		}
		rep := f.report(f.A, ids[0])
		if len(rep.Values) != 2 || !rep.Values[0].RefHigh.Valid || rep.Values[0].RefHigh.Float64 != 150.5 || !rep.TimeUnknown {
			t.Fatalf("stored: %+v", rep)
		}
		for lang, want := range map[string][]string{"fr": {"12,5", "14,1", "15 – 150,5", ">19/11/2026<"}, "pl": {"12,5", "14,1", ">19.11.2026<"},
			"sk": {"12,5", "14,1", ">19. 11. 2026<"}} {
			ten := f.A
			ten.Locale = lang
			page := string(f.get(ten, staff, "/results/staff/r/"+ids[0]).Body)
			for _, w := range want {
				if !strings.Contains(page, w) {
					t.Errorf("%s report page lacks %q", lang, w)
				}
			}
			if strings.Contains(page, "14.1") || strings.Contains(page, "00:00") {
				t.Errorf("%s report page shows 14.1 or a time the lab did not give:\n%s", lang, page)
			}
		}
		f.noMissingMessages()
	})
}

// rowOf is the table row of a page holding needle.
func rowOf(page, needle string) string {
	i := strings.Index(page, needle)
	if i < 0 {
		return ""
	}
	start := strings.LastIndex(page[:i], "<tr")
	end := strings.Index(page[i:], "</tr>")
	if start < 0 || end < 0 {
		return ""
	}
	return page[start : i+end]
}

// pendingPro registers a professional "10101010101" on the professionals' portal of tenant
// A, waiting for the lab's check; it returns that portal's tenant and him.
func (f *fixture) pendingPro() (sdk.Tenant, *sdk.User) {
	f.t.Helper()
	pros := f.A
	pros.Portal = portalPros
	pro := f.user(f.A, sdk.User{ID: "u-pro", Name: "Dr Jean Petit", Portal: portalPros, Roles: []string{"user"},
		Profile: map[string]string{fieldProNumber: "10101010101"}})
	if err := f.h.Event(context.Background(), f.A, host.EventUserVerified, []byte(pro.ID)); err != nil {
		f.t.Fatal(err)
	}
	return pros, pro
}

// activate has lab staff activate pro with the number he declared.
func (f *fixture) activate(pro *sdk.User) {
	f.t.Helper()
	staff := f.user(f.A, sdk.User{ID: "u-staff", Name: "Lab", Roles: []string{"user", "lab_staff"}})
	if res := f.post(f.A, staff, "/results/staff/professionals/"+pro.ID+"/activate", url.Values{"register_number": {pro.Profile[fieldProNumber]}}); res.Status != http.StatusSeeOther {
		f.t.Fatalf("activate: %d", res.Status)
	}
}

// TestProfessionalHomeMarkersAndTrends: a professional hears by e-mail that the lab opened
// his account; his home on his portal lists his patients' results marked when values are out
// of range and when they are new since his previous visit (stored by the module); he finds
// them by a date written as the page writes it, in fr, pl and sk; he follows a patient's
// analyte over the reports he prescribed, each view recorded (issue 12.7, R1, R5, R9).
func TestProfessionalHomeMarkersAndTrends(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		pros, pro := f.pendingPro()
		// Pending: his portal's home says so and offers no patient's page.
		if home := string(f.get(pros, pro, "/results").Body); strings.Contains(home, `href="/results/mine"`) {
			t.Fatalf("the professionals' home offers the patients' page:\n%s", home)
		}
		f.activate(pro)
		var mail []sdk.Message
		for _, m := range f.h.Host.Messages {
			if m.Value.Template == "results.professional_activated" {
				mail = append(mail, m.Value)
			}
		}
		if len(mail) != 1 || mail[0].UserID != pro.ID || mail[0].Link != "/login?next=/results/pro" {
			t.Fatalf("activation e-mail: %+v", mail)
		}
		pro.Roles = append(pro.Roles, roleProfessional)
		if res := f.get(pros, pro, "/results"); res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/results/pro" {
			t.Fatalf("a professional's home: %d %v", res.Status, res.Header)
		}
		f.api(f.A, f.incoming("R-1", "P-1", "Durand", "Marie", "Martin", "1985-03-02", "10101010101"))
		other := f.incoming("R-2", "P-2", "Dupont", "Jean", "", "1970-01-01", "10101010101")
		other.CollectedAt, other.Values = "2026-10-01T08:00:00Z", other.Values[1:]
		f.api(f.A, other)
		f.api(f.A, f.incoming("R-X", "P-1", "Durand", "Marie", "Martin", "1985-03-02", "20202020202"))
		id := map[string]string{}
		for _, rid := range f.reportIDs(f.A) {
			id[f.report(f.A, rid).ReportID] = rid
		}
		first := string(f.get(pros, pro, "/results/pro").Body)
		if strings.Count(first, ">Nouveau<") != 2 || strings.Contains(first, id["R-X"]) {
			t.Fatalf("first visit: every result of his is new, none of another's:\n%s", first)
		}
		if r := rowOf(first, id["R-1"]); !strings.Contains(r, "Une valeur anormale") {
			t.Fatalf("R-1 not marked abnormal: %s", r)
		}
		if r := rowOf(first, id["R-2"]); strings.Contains(r, "anormale") {
			t.Fatalf("R-2 marked abnormal: %s", r)
		}
		// Within the same visit nothing changes; a new report after it is the one new.
		f.now = f.now.Add(10 * time.Minute)
		if again := string(f.get(pros, pro, "/results/pro").Body); strings.Count(again, ">Nouveau<") != 2 {
			t.Fatalf("the same visit lost its new markers:\n%s", again)
		}
		f.now = f.now.Add(2 * time.Hour)
		third := f.incoming("R-3", "P-1", "Durand", "Marie", "Martin", "1985-03-02", "10101010101")
		third.CollectedAt = "2026-11-20T07:00:00Z"
		third.Values[0].Value = "7,1"
		f.api(f.A, third)
		for _, rid := range f.reportIDs(f.A) {
			id[f.report(f.A, rid).ReportID] = rid
		}
		next := string(f.get(pros, pro, "/results/pro").Body)
		if strings.Count(next, ">Nouveau<") != 1 || !strings.Contains(rowOf(next, id["R-3"]), ">Nouveau<") ||
			!strings.Contains(next, "Un nouveau résultat depuis votre dernière visite (20/11/2026 11:10)") {
			t.Fatalf("second visit:\n%s", next)
		}
		// Search by the date as the page writes it: the collection's, or the birth's.
		for lang, q := range map[string][]string{"fr": {"19/11/2026", "02/03/1985"}, "pl": {"19.11.2026", "2.03.1985"}, "sk": {"19. 11. 2026", "2. 3. 1985"}} {
			ten := pros
			ten.Locale = lang
			day := string(f.get(ten, pro, "/results/pro?q="+url.QueryEscape(q[0])).Body)
			if !strings.Contains(day, id["R-1"]) || strings.Contains(day, id["R-2"]) || strings.Contains(day, id["R-3"]) {
				t.Errorf("%s search %q:\n%s", lang, q[0], day)
			}
			born := string(f.get(ten, pro, "/results/pro?q="+url.QueryEscape(q[1])).Body)
			if !strings.Contains(born, id["R-1"]) || !strings.Contains(born, id["R-3"]) || strings.Contains(born, id["R-2"]) {
				t.Errorf("%s search %q:\n%s", lang, q[1], born)
			}
		}
		// His patient's glucose over the reports he prescribed (not R-X), recorded.
		p1 := f.report(f.A, id["R-1"]).PatientID
		before := f.audits("results.trend")
		tr := f.get(pros, pro, "/results/pro/p/"+p1+"/trend/GLU")
		if tr.Status != 200 || strings.Count(string(tr.Body), "<title>") != 2 || !strings.Contains(string(tr.Body), "mmol/L") ||
			!strings.Contains(string(tr.Body), "/results/pro/r/"+id["R-3"]) || f.audits("results.trend") != before+1 {
			t.Fatalf("professional's trend: %d\n%s", tr.Status, tr.Body)
		}
		for _, a := range f.h.Host.Audits {
			if a.Value.Action == "results.trend" && a.Value.Subject != "labpatient:"+p1 {
				t.Fatalf("trend recorded about %q", a.Value.Subject)
			}
		}
		// His pages in every language (each message exists in fr, pl and sk).
		for _, lang := range []string{"fr", "pl", "sk"} {
			ten := pros
			ten.Locale = lang
			for _, path := range []string{"/results/pro", "/results/pro/r/" + id["R-1"], "/results/pro/p/" + p1 + "/trend/GLU",
				"/results/pro/r/" + id["R-1"] + "/print"} {
				if res := f.get(ten, pro, path); res.Status != 200 {
					t.Errorf("%s %s: %d", lang, path, res.Status)
				}
			}
		}
		// No value of that analyte he prescribed for P-2: nothing.
		p2 := f.report(f.A, id["R-2"]).PatientID
		if res := f.get(pros, pro, "/results/pro/p/"+p2+"/trend/GLU"); res.Status != http.StatusNotFound {
			t.Fatalf("trend without values: %d", res.Status)
		}
		f.noMissingMessages()
	})
}

// TestExportCarriesTheReportPDFs: the personal data export holds each report's PDFs, the
// lab's signed original byte for byte and the printout in the person's language, named in
// the report's JSON; the host takes them out of the JSON as files (issue 12.16, P11).
func TestExportCarriesTheReportPDFs(t *testing.T) {
	f := setup(t, "sqlite")
	in := f.incoming("R-1", "P-1", "Durand", "Marie", "Martin", "1985-03-02", "")
	original := in.PDF
	f.api(f.A, in)
	marie := f.patient(f.A, "u-marie", "Marie Durand", "Martin", "1985-03-02")
	ten := f.A
	ten.Locale = "pl"
	b, err := f.h.Export(context.Background(), ten, marie.ID)
	if err != nil {
		t.Fatal(err)
	}
	js, files, err := host.SplitExport(b)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Reports []struct {
			PDFFile      string `json:"pdf_file"`
			PrintoutFile string `json:"printout_file"`
		}
	}
	if err := json.Unmarshal(js, &out); err != nil || len(out.Reports) != 1 || strings.Contains(string(js), `"files"`) {
		t.Fatalf("export JSON: %v %s", err, js)
	}
	byName := map[string][]byte{}
	for _, x := range files {
		byName[x.Name] = x.Data
	}
	r := out.Reports[0]
	if len(files) != 2 || !bytes.Equal(byName[r.PDFFile], original) || r.PDFFile != "reports/R-1-oryginal-laboratorium.pdf" {
		t.Fatalf("export files %v, report %+v", len(files), r)
	}
	if r.PrintoutFile != "reports/R-1-sprawozdanie-19-11-2026.pdf" {
		t.Fatalf("printout named %q", r.PrintoutFile)
	}
	text := pdftotext(t, byName[r.PrintoutFile])
	if !strings.Contains(text, "Sprawozdanie z badań") || !strings.Contains(text, "DURAND Marie") || !strings.Contains(text, "W normie") {
		t.Fatalf("printout in Polish:\n%s", text)
	}
}

// TestProfessionalVisitHeldByTheDatabase: when a professional opens his results at once in
// several tabs after a pause, one new visit begins (its "since" is the previous visit's
// last view), not one per request: the guarded update holds it (issue 12.7).
func TestProfessionalVisitHeldByTheDatabase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		pros, pro := f.pendingPro()
		f.activate(pro)
		pro.Roles = append(pro.Roles, roleProfessional)
		first := f.now
		f.get(pros, pro, "/results/pro")
		f.now = first.Add(3 * time.Hour)
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := f.h.Do(context.Background(), pros, pro, "GET", "/results/pro", nil)
				if err != nil || res.Status != 200 {
					t.Errorf("concurrent visit: %v %v", err, res)
				}
			}()
		}
		wg.Wait()
		var p *Professional
		f.in(f.A, func(ctx context.Context, sc *store.Scope) (err error) {
			p, err = professional(ctx, sc, pro.ID)
			return err
		})
		if !p.LastVisitAt.Time.Equal(first) || !p.SeenAt.Time.Equal(f.now) {
			t.Fatalf("after concurrent views: last visit %v (want %v), seen %v (want %v)", p.LastVisitAt.Time, first, p.SeenAt.Time, f.now)
		}
	})
}

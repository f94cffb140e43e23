package results

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/host"
)

// labRecord reads the lab record of a lab patient id.
func (f *fixture) labRecord(ten sdk.Tenant, labID string) *LabPatient {
	f.t.Helper()
	p := &LabPatient{}
	f.in(ten, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(p).Where("lp.lab_patient_id = ?", labID).Scan(ctx)
	})
	return p
}

// reportOf reads the report of a lab report id.
func (f *fixture) reportOf(ten sdk.Tenant, reportID string) *Report {
	f.t.Helper()
	r := &Report{}
	f.in(ten, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(r).Where("rp.report_id = ?", reportID).Scan(ctx)
	})
	return f.report(ten, r.ID)
}

// parallel runs fn(0) … fn(n-1) at once and waits for them all: a race.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			fn(i)
		}(i)
	}
	wg.Wait()
}

// told counts the e-mails of template sent to a user.
func (f *fixture) told(userID, template string) int {
	n := 0
	for _, msg := range f.h.Host.Messages {
		if msg.Value.UserID == userID && msg.Value.Template == template && msg.Value.Channel == "" {
			n++
		}
	}
	return n
}

// TestReportUnderAnotherLabIDReachesItsPatient (R3, issue 12.1): a linked patient whose LIS
// sends a report under another lab patient id gets it: the new record is linked to her
// account (the one account carrying its identity), she is told, the link is audited.
func TestReportUnderAnotherLabIDReachesItsPatient(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		f.api(f.A, f.incoming("R-1", "P-1", "Durand", "Marie", "Martin", "1985-03-02", ""))
		marie := f.patient(f.A, "u-marie", "Marie Durand", "Martin", "1985-03-02")
		if f.labRecord(f.A, "P-1").UserID != marie.ID {
			t.Fatal("P-1 not linked")
		}
		res, out := f.api(f.A, f.incoming("R-2", "DEMO-P-0001", "DURAND", "Marie", "Martin", "1985-03-02", ""))
		if res.Status != http.StatusCreated || out["linked"] != true || out["status"] != "created" {
			t.Fatalf("report under another lab id: %d %v", res.Status, out)
		}
		if p := f.labRecord(f.A, "DEMO-P-0001"); p.UserID != marie.ID || p.LinkedBy != byMatch {
			t.Fatalf("second record: %+v", p)
		}
		page := string(f.get(f.A, marie, "/results/mine").Body)
		for _, id := range f.reportIDs(f.A) {
			if !strings.Contains(page, id) {
				t.Fatalf("Marie does not see report %s:\n%s", id, page)
			}
		}
		if f.told(marie.ID, "results.published") != 2 || f.audits("results.linked") != 2 {
			t.Fatalf("told %d times, %d links audited", f.told(marie.ID, "results.published"), f.audits("results.linked"))
		}
		// A report whose identity matches no account, or two, is linked to nobody.
		f.patient(f.A, "u-jean1", "Jean Dupont", "Dupont", "1970-01-01")
		f.patient(f.A, "u-jean2", "Jean Dupont", "Dupont", "1970-01-01")
		for _, in := range []*Incoming{f.incoming("R-3", "P-3", "Nowak", "Anna", "Kowalska", "1990-06-15", ""),
			f.incoming("R-4", "P-4", "Dupont", "Jean", "", "1970-01-01", "")} {
			if res, out := f.api(f.A, in); res.Status != http.StatusCreated || out["linked"] != false {
				t.Fatalf("%s: %d %v", in.ReportID, res.Status, out)
			}
		}
		// A third account of that identity registering later is not given the record either.
		f.patient(f.A, "u-jean3", "Jean Dupont", "Dupont", "1970-01-01")
		if p := f.labRecord(f.A, "P-4"); p.UserID != "" {
			t.Fatalf("a record several accounts match went to %s", p.UserID)
		}
	})
}

// TestRecordsWithoutAccountWaitInTheStaffQueue (R3, issue 12.1, 12.3): a record no account
// matches, or several do, is listed in the staff queue with the reason; staff open it, see
// the candidate accounts with e-mail, phone and secret question, and attach it to one; the
// patient sees the report and is told. A record staff took away from an account is not
// linked again automatically.
func TestRecordsWithoutAccountWaitInTheStaffQueue(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		staff := f.user(f.A, sdk.User{ID: "u-staff", Name: "Lab", Roles: []string{"user", "lab_staff"}})
		typo := f.user(f.A, sdk.User{ID: "u-typo", Email: "marie.d@example.org", Name: "Marie Durant", BirthDate: "1985-03-02", Portal: "patients",
			SecretQuestion: "Nom de mon premier chat ?", Profile: map[string]string{fieldBirthName: "Martin", fieldMobile: "+33 6 12 34 56 78"},
			Roles: []string{"user"}})
		if err := f.h.Event(context.Background(), f.A, host.EventUserVerified, []byte(typo.ID)); err != nil {
			t.Fatal(err)
		}
		f.h.Host.Secrets[typo.ID] = "Minou"
		f.api(f.A, f.incoming("R-1", "P-1", "Durand", "Marie", "Martin", "1985-03-02", ""))
		f.patient(f.A, "u-jean1", "Jean Dupont", "Dupont", "1970-01-01")
		f.patient(f.A, "u-jean2", "Jean Dupont", "Dupont", "1970-01-01")
		f.api(f.A, f.incoming("R-2", "P-2", "Dupont", "Jean", "", "1970-01-01", ""))
		fr := f.m.Msgs.For("fr")
		q := string(f.get(f.A, staff, "/results/staff/queue").Body)
		for _, want := range []string{fr.T("results.queue.records"), "P-1", fr.T("results.queue.reason.no_account"), "P-2",
			fr.T("results.queue.reason.several_accounts"), "marie.d@example.org", "6 12 34 56 78", "Nom de mon premier chat ?"} {
			if !strings.Contains(q, want) {
				t.Fatalf("queue lacks %q:\n%s", want, q)
			}
		}
		home := string(f.get(f.A, staff, "/results/staff").Body)
		if !strings.Contains(home, fr.TN("results.staff.records_count", 2)) {
			t.Fatalf("staff home does not count the waiting records:\n%s", home)
		}
		// A wrong answer is a mismatch (the core records it as failed).
		chk := f.post(f.A, staff, "/results/staff/queue/"+typo.ID+"/check", url.Values{"answer": {"Rex"}})
		if !strings.Contains(string(chk.Body), fr.T("results.queue.check_mismatch")) {
			t.Fatalf("wrong answer:\n%s", chk.Body)
		}
		// The record's page shows the account that may be hers, with her identity.
		p1 := f.labRecord(f.A, "P-1")
		page := string(f.get(f.A, staff, "/results/staff/patients/"+p1.ID).Body)
		for _, want := range []string{"Marie Durant", "marie.d@example.org", "6 12 34 56 78", "Nom de mon premier chat ?",
			"/results/staff/patients/" + p1.ID + "/attach"} {
			if !strings.Contains(page, want) {
				t.Fatalf("record page lacks %q:\n%s", want, page)
			}
		}
		// An account whose identity is further off is found by the person's e-mail.
		f.patient(f.A, "u-claire", "Claire Moreau", "Moreau", "1979-04-12")
		if page := string(f.get(f.A, staff, "/results/staff/patients/"+p1.ID).Body); strings.Contains(page, "Claire Moreau") {
			t.Fatal("an unrelated account offered without a search")
		}
		if page := string(f.get(f.A, staff, "/results/staff/patients/"+p1.ID+"?email=u-claire@example.org").Body); !strings.Contains(page, fr.T("results.patient.attach_to", "Name", "Claire Moreau")) {
			t.Fatalf("the account found by e-mail is not offered:\n%s", page)
		}
		if page := string(f.get(f.A, staff, "/results/staff/patients/"+p1.ID+"?email=nobody@example.org").Body); !strings.Contains(page, fr.T("results.err.unknown_account")) {
			t.Fatalf("an unknown e-mail is not said:\n%s", page)
		}
		// Bad input: an unknown account is refused next to the form, nothing changes.
		if res := f.post(f.A, staff, "/results/staff/patients/"+p1.ID+"/attach", url.Values{"user": {"nobody"}}); res.Status != http.StatusUnprocessableEntity ||
			!strings.Contains(string(res.Body), fr.T("results.err.unknown_account")) || f.labRecord(f.A, "P-1").UserID != "" {
			t.Fatalf("unknown account: %d", res.Status)
		}
		res := f.post(f.A, staff, "/results/staff/patients/"+p1.ID+"/attach", url.Values{"user": {typo.ID}})
		if res.Status != http.StatusSeeOther || f.labRecord(f.A, "P-1").UserID != typo.ID {
			t.Fatalf("attach: %d %s", res.Status, res.Body)
		}
		if !strings.Contains(string(f.get(f.A, typo, "/results/mine").Body), f.reportOf(f.A, "R-1").ID) || f.told(typo.ID, "results.published") != 1 {
			t.Fatal("the attached patient does not see her report, or was not told")
		}
		// Attached already: another account cannot take it.
		jean := "u-jean1"
		if res := f.post(f.A, staff, "/results/staff/patients/"+p1.ID+"/attach", url.Values{"user": {jean}}); res.Status != http.StatusConflict ||
			f.labRecord(f.A, "P-1").UserID != typo.ID {
			t.Fatalf("attach a linked record: %d", res.Status)
		}
		// Staff take it away (a wrong link): the next report does not link it again by itself.
		f.post(f.A, staff, "/results/staff/patients/"+p1.ID+"/unlink", nil)
		f.patient(f.A, "u-marie", "Marie Durand", "Martin", "1985-03-02")
		if res, out := f.api(f.A, f.incoming("R-3", "P-1", "Durand", "Marie", "Martin", "1985-03-02", "")); res.Status != http.StatusCreated || out["linked"] != false {
			t.Fatalf("a record staff unlinked was linked again: %v", out)
		}
		q = string(f.get(f.A, staff, "/results/staff/queue").Body)
		if !strings.Contains(q, fr.T("results.queue.reason.held")) {
			t.Fatalf("the unlinked record is not in the queue:\n%s", q)
		}
		f.noMissingMessages()
	})
}

// TestStaffMergeTwoRecordsOfOnePerson (R3, issue 12.1): the LIS holds Marie twice; staff
// merge the second record into the first: its reports move to her, the merge is audited,
// and a later report under the merged lab id reaches her too.
func TestStaffMergeTwoRecordsOfOnePerson(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		staff := f.user(f.A, sdk.User{ID: "u-staff", Name: "Lab", Roles: []string{"user", "lab_staff"}})
		f.api(f.A, f.incoming("R-1", "P-1", "Durand", "Marie", "Martin", "1985-03-02", ""))
		marie := f.patient(f.A, "u-marie", "Marie Durand", "Martin", "1985-03-02")
		f.api(f.A, f.incoming("R-2", "P-2", "Durant", "Marie", "Martin", "1985-03-02", "")) // a typo in the LIS
		p1, p2 := f.labRecord(f.A, "P-1"), f.labRecord(f.A, "P-2")
		if p2.UserID != "" {
			t.Fatal("a typo matched")
		}
		page := string(f.get(f.A, staff, "/results/staff/patients/"+p1.ID).Body)
		if !strings.Contains(page, "/results/staff/patients/"+p1.ID+"/merge") || !strings.Contains(page, "P-2") {
			t.Fatalf("no merge offered:\n%s", page)
		}
		if res := f.post(f.A, staff, "/results/staff/patients/"+p1.ID+"/merge", url.Values{"from": {p1.ID}}); res.Status != http.StatusUnprocessableEntity {
			t.Fatalf("merge into itself: %d", res.Status)
		}
		res := f.post(f.A, staff, "/results/staff/patients/"+p1.ID+"/merge", url.Values{"from": {p2.ID}})
		if res.Status != http.StatusSeeOther {
			t.Fatalf("merge: %d %s", res.Status, res.Body)
		}
		r2 := f.reportOf(f.A, "R-2")
		if r2.PatientID != p1.ID || f.labRecord(f.A, "P-2").MergedInto != p1.ID || f.audits("results.merged") != 1 {
			t.Fatalf("after merge: report on %s, P-2 %+v, %d audits", r2.PatientID, f.labRecord(f.A, "P-2"), f.audits("results.merged"))
		}
		if !strings.Contains(string(f.get(f.A, marie, "/results/mine").Body), r2.ID) {
			t.Fatal("Marie does not see the merged record's report")
		}
		// Merged already: a second merge of the same record is refused.
		if res := f.post(f.A, staff, "/results/staff/patients/"+p1.ID+"/merge", url.Values{"from": {p2.ID}}); res.Status != http.StatusConflict {
			t.Fatalf("merge twice: %d", res.Status)
		}
		// The LIS keeps sending under P-2: the report goes to P-1, Marie's.
		if res, out := f.api(f.A, f.incoming("R-3", "P-2", "Durant", "Marie", "Martin", "1985-03-02", "")); res.Status != http.StatusCreated || out["linked"] != true {
			t.Fatalf("report under the merged id: %d %v", res.Status, out)
		}
		if f.reportOf(f.A, "R-3").PatientID != p1.ID {
			t.Fatal("the report under the merged id did not reach the record it was merged into")
		}
		// Two records of two accounts are not merged.
		f.api(f.A, f.incoming("R-4", "P-4", "Dupont", "Jean", "", "1970-01-01", ""))
		f.patient(f.A, "u-jean", "Jean Dupont", "Dupont", "1970-01-01")
		if res := f.post(f.A, staff, "/results/staff/patients/"+p1.ID+"/merge", url.Values{"from": {f.labRecord(f.A, "P-4").ID}}); res.Status != http.StatusConflict {
			t.Fatalf("merge of two accounts' records: %d", res.Status)
		}
	})
}

// TestLinkAndMergeRacesHeldByTheDatabase (R3, issue 12.1): two staff attaching one record
// to two accounts at once: one wins; two merges of the same pair crosswise at once: one
// wins, no cycle.
func TestLinkAndMergeRacesHeldByTheDatabase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		staff := f.user(f.A, sdk.User{ID: "u-staff", Name: "Lab", Roles: []string{"user", "lab_staff"}})
		for i := 0; i < 3; i++ {
			f.patient(f.A, "u-"+string(rune('a'+i)), "Anna Nowak "+string(rune('A'+i)), "Kowalska", "1990-06-15")
		}
		f.api(f.A, f.incoming("R-1", "P-1", "Nowak", "Anna", "Kowalska", "1990-06-15", ""))
		f.api(f.A, f.incoming("R-2", "P-2", "Nowak", "Ana", "Kowalska", "1990-06-15", ""))
		p1, p2 := f.labRecord(f.A, "P-1"), f.labRecord(f.A, "P-2")
		codes := make([]int, 3)
		parallel(len(codes), func(i int) {
			codes[i] = f.post(f.A, staff, "/results/staff/patients/"+p1.ID+"/attach", url.Values{"user": {"u-" + string(rune('a'+i))}}).Status
		})
		won := 0
		for _, c := range codes {
			if c == http.StatusSeeOther {
				won++
			} else if c != http.StatusConflict {
				t.Fatalf("attach race: %v", codes)
			}
		}
		if won != 1 || f.audits("results.linked") != 1 {
			t.Fatalf("attach race: %v, %d links audited", codes, f.audits("results.linked"))
		}
		// Crosswise merges.
		f.post(f.A, staff, "/results/staff/patients/"+p1.ID+"/unlink", nil)
		pairs := [][2]string{{p1.ID, p2.ID}, {p2.ID, p1.ID}}
		codes = make([]int, 2)
		parallel(len(pairs), func(i int) {
			codes[i] = f.post(f.A, staff, "/results/staff/patients/"+pairs[i][0]+"/merge", url.Values{"from": {pairs[i][1]}}).Status
		})
		if !(codes[0] == http.StatusSeeOther) != (codes[1] == http.StatusSeeOther) || (codes[0] != http.StatusConflict && codes[1] != http.StatusConflict) {
			t.Fatalf("crosswise merges: %v", codes)
		}
		a, b2 := f.labRecord(f.A, "P-1"), f.labRecord(f.A, "P-2")
		if (a.MergedInto == "") == (b2.MergedInto == "") || f.audits("results.merged") != 1 {
			t.Fatalf("after the race: P-1 merged into %q, P-2 into %q", a.MergedInto, b2.MergedInto)
		}
	})
}

// TestAmendedReportsAreVersioned (R3, R4, R10, issue 12.2): the same report id with other
// content is a new version that replaces what the patient and the prescriber see; earlier
// versions stay readable to staff; the patient is told without health data; each version
// is audited; the same content again is unchanged, even when two imports race; the
// availability counts from the first publication.
func TestAmendedReportsAreVersioned(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		staff := f.user(f.A, sdk.User{ID: "u-staff", Name: "Lab", Roles: []string{"user", "lab_staff"}})
		marie := f.patient(f.A, "u-marie", "Marie Durand", "Martin", "1985-03-02")
		first := f.incoming("R-1", "P-1", "Durand", "Marie", "Martin", "1985-03-02", "")
		first.Status = "partial"
		first.Values = first.Values[:1]
		if res, out := f.api(f.A, first); res.Status != http.StatusCreated || out["status"] != "created" {
			t.Fatalf("first: %d %v", res.Status, out)
		}
		published := f.now
		f.now = f.now.Add(30 * time.Hour)
		final := f.incoming("R-1", "P-1", "Durand", "Marie", "Martin", "1985-03-02", "")
		final.Values[0].Value = "6,6"
		res, out := f.api(f.A, final)
		if res.Status != http.StatusOK || out["status"] != "amended" || out["version"] != float64(2) {
			t.Fatalf("final: %d %v", res.Status, out)
		}
		rep := f.reportOf(f.A, "R-1")
		if rep.Status != "final" || rep.Version != 2 || len(rep.Values) != 2 || rep.Values[0].Value != "6,6" || !rep.PublishedAt.Equal(published) {
			t.Fatalf("the latest version does not replace the first: %+v %v", rep, rep.Values)
		}
		if len(f.reportIDs(f.A)) != 1 {
			t.Fatal("an amendment made a second report")
		}
		// The patient sees the final version, and the page says the availability counts from
		// the first publication.
		fr := f.m.Msgs.For("fr")
		page := string(f.get(f.A, marie, "/results/r/"+rep.ID).Body)
		if !strings.Contains(page, "6,6") || !strings.Contains(page, fr.T("results.status.final")) ||
			!strings.Contains(page, fr.T("results.report.availability", "Date", published.AddDate(5, 0, 0).Format("02/01/2006"),
				"Published", published.Format("02/01/2006"))) {
			t.Fatalf("patient page:\n%s", page)
		}
		if strings.Contains(page, "/v/1") {
			t.Fatal("the patient reaches an earlier version")
		}
		// Told of the update, with no health data.
		if f.told(marie.ID, "results.amended") != 1 {
			t.Fatalf("amendment told %d times", f.told(marie.ID, "results.amended"))
		}
		for _, msg := range f.h.Host.Messages {
			if msg.Value.Template == "results.amended" && (len(msg.Value.Data) != 0 || !strings.HasPrefix(msg.Value.Link, "/login")) {
				t.Fatalf("amendment message %+v", msg.Value)
			}
		}
		if f.audits("results.amended") != 1 {
			t.Fatalf("%d amendments audited", f.audits("results.amended"))
		}
		// Staff read both versions; version 1 with its own value and PDF.
		sp := string(f.get(f.A, staff, "/results/staff/r/"+rep.ID).Body)
		if !strings.Contains(sp, fr.T("results.versions.title")) || !strings.Contains(sp, "/results/staff/r/"+rep.ID+"/v/1") {
			t.Fatalf("staff page without versions:\n%s", sp)
		}
		v1 := f.get(f.A, staff, "/results/staff/r/"+rep.ID+"/v/1")
		if v1.Status != 200 || !strings.Contains(string(v1.Body), "6,4") || !strings.Contains(string(v1.Body), fr.T("results.status.partial")) {
			t.Fatalf("version 1: %d\n%s", v1.Status, v1.Body)
		}
		pdf := f.get(f.A, staff, "/results/staff/r/"+rep.ID+"/v/1/pdf")
		if pdf.Status != 200 || string(pdf.Body) != string(first.PDF) {
			t.Fatalf("version 1 PDF: %d", pdf.Status)
		}
		for _, p := range []string{"/v/3", "/v/0", "/v/x", "/v/3/pdf"} {
			if res := f.get(f.A, staff, "/results/staff/r/"+rep.ID+p); res.Status != http.StatusNotFound {
				t.Fatalf("%s: %d", p, res.Status)
			}
		}
		// The same content again, the latest or an earlier one: unchanged, nothing sent.
		for _, in := range []*Incoming{final, first} {
			c := *in
			if res, out := f.api(f.A, &c); res.Status != http.StatusOK || out["status"] != "unchanged" {
				t.Fatalf("same content again: %d %v", res.Status, out)
			}
		}
		// Two identical amendments racing: one amends, the other finds it unchanged.
		third := f.incoming("R-1", "P-1", "Durand", "Marie", "Martin", "1985-03-02", "")
		third.Values[1].Value = "14.2"
		blobs := len(f.h.Host.Blobs)
		whats := make([]any, 6)
		parallel(len(whats), func(i int) {
			c := *third
			_, out := f.api(f.A, &c)
			whats[i] = out["status"]
		})
		amended := 0
		for _, w := range whats {
			if w == "amended" {
				amended++
			} else if w != "unchanged" {
				t.Fatalf("race: %v", whats)
			}
		}
		if amended != 1 || f.count(f.A, (*ReportVersion)(nil), "1 = 1") != 3 || f.audits("results.amended") != 2 || len(f.h.Host.Blobs) != blobs+1 {
			t.Fatalf("race: %v, %d versions, %d audits, %d new PDFs", whats, f.count(f.A, (*ReportVersion)(nil), "1 = 1"),
				f.audits("results.amended"), len(f.h.Host.Blobs)-blobs)
		}
		// R4: removal counts from the first publication, whatever the versions.
		f.now = published.AddDate(5, 0, -1)
		if err := f.h.Job(context.Background(), f.A, jobRetention, nil); err != nil || len(f.reportIDs(f.A)) != 1 {
			t.Fatalf("removed before its time: %v", err)
		}
		f.now = published.AddDate(5, 0, 1)
		if err := f.h.Job(context.Background(), f.A, jobRetention, nil); err != nil {
			t.Fatal(err)
		}
		if len(f.reportIDs(f.A)) != 0 || len(f.h.Host.Blobs) != 0 {
			t.Fatalf("%d PDFs of expired versions kept", len(f.h.Host.Blobs))
		}
		f.noMissingMessages()
	})
}

// TestRecordPagesInEveryLanguage (R3, issue 12.1–12.3): the queue, a record's page with its
// candidates and records to merge, and an amended report's versions read in fr, pl and sk,
// with no message missing.
func TestRecordPagesInEveryLanguage(t *testing.T) {
	f := setup(t, "sqlite")
	staff := f.user(f.A, sdk.User{ID: "u-staff", Name: "Lab", Roles: []string{"user", "lab_staff"}})
	f.patient(f.A, "u-typo", "Marie Durant", "Martin", "1985-03-02")
	f.api(f.A, f.incoming("R-1", "P-1", "Durand", "Marie", "Martin", "1985-03-02", ""))
	f.api(f.A, f.incoming("R-2", "P-2", "Durand", "Maria", "Martin", "1985-03-02", ""))
	amended := f.incoming("R-1", "P-1", "Durand", "Marie", "Martin", "1985-03-02", "")
	amended.Values[0].Value = "7"
	f.api(f.A, amended)
	rep, p1 := f.reportOf(f.A, "R-1"), f.labRecord(f.A, "P-1")
	f.post(f.A, staff, "/results/staff/patients/"+p1.ID+"/merge", url.Values{"from": {f.labRecord(f.A, "P-2").ID}})
	p2 := f.labRecord(f.A, "P-2")
	for _, lang := range []string{"fr", "pl", "sk"} {
		ten := f.A
		ten.Locale = lang
		msgs := f.m.Msgs.For(lang)
		for p, want := range map[string]string{
			"/results/staff/queue":                msgs.T("results.queue.records"),
			"/results/staff/patients/" + p1.ID:    msgs.T("results.patient.attach"),
			"/results/staff/patients/" + p2.ID:    msgs.T("results.patient.merged_into"),
			"/results/staff/r/" + rep.ID:          msgs.T("results.versions.title"),
			"/results/staff/r/" + rep.ID + "/v/1": msgs.T("results.version.title"),
			"/results/staff":                      msgs.TN("results.staff.records_count", 1),
		} {
			if res := f.get(ten, staff, p); res.Status != 200 || !strings.Contains(string(res.Body), want) {
				t.Errorf("%s %s: %d, without %q", lang, p, res.Status, want)
			}
		}
	}
	f.noMissingMessages()
}

// TestReportStoredBeforeVersionsIsAmended (R3, issue 12.2): a report imported before the
// module kept versions (no content sum, no version row) is still "unchanged" when the LIS
// sends it again, and its amendment keeps it readable to staff as version 1.
func TestReportStoredBeforeVersionsIsAmended(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		staff := f.user(f.A, sdk.User{ID: "u-staff", Name: "Lab", Roles: []string{"user", "lab_staff"}})
		in := f.incoming("R-1", "P-1", "Durand", "Marie", "Martin", "1985-03-02", "")
		f.api(f.A, in)
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			if _, err := sc.Delete((*ReportVersion)(nil)).Where("1 = 1").Exec(ctx); err != nil {
				return err
			}
			_, err := sc.Update((*Report)(nil)).Set("content_sha256 = ''").Where("1 = 1").Exec(ctx)
			return err
		})
		again := *in
		if res, out := f.api(f.A, &again); res.Status != http.StatusOK || out["status"] != "unchanged" {
			t.Fatalf("the same report again: %d %v", res.Status, out)
		}
		amended := f.incoming("R-1", "P-1", "Durand", "Marie", "Martin", "1985-03-02", "")
		amended.Values[0].Value = "5,0"
		if res, out := f.api(f.A, amended); res.Status != http.StatusOK || out["status"] != "amended" || out["version"] != float64(2) {
			t.Fatalf("amendment: %d %v", res.Status, out)
		}
		id := f.reportOf(f.A, "R-1").ID
		if v1 := f.get(f.A, staff, "/results/staff/r/"+id+"/v/1"); v1.Status != 200 || !strings.Contains(string(v1.Body), "6,4") {
			t.Fatalf("version 1: %d", v1.Status)
		}
	})
}

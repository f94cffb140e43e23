package results

import (
	"context"
	"encoding/base64"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

// hl7Example reads a published ORU^R01 (testdata/README.md). None carries the report's PDF:
// the test appends an OBX of type ED holding one, the file stays as published.
func (f *fixture) hl7Example(name string) string {
	f.t.Helper()
	raw, err := os.ReadFile("testdata/" + name)
	if err != nil {
		f.t.Fatal(err)
	}
	pdf, err := f.m.reportPDF(f.A, "fr", &Incoming{ReportID: "HL7", Patient: IncomingPatient{LastName: "Johnson", FirstName: "Philip"}})
	if err != nil {
		f.t.Fatal(err)
	}
	msg := strings.TrimRight(string(raw), "\r\n")
	return msg + "\rOBX|99|ED|PDF^Compte rendu^L||^application^pdf^Base64^" + base64.StdEncoding.EncodeToString(pdf) + "||||||F\r"
}

func (f *fixture) hl7(ten sdk.Tenant, msg string) (*sdk.Response, map[string][]string) {
	f.t.Helper()
	res, err := f.h.Send(context.Background(), ten, nil, &sdk.Request{Method: "POST", Path: "/results/api/hl7", Body: []byte(msg),
		Header: http.Header{"Content-Type": {"x-application/hl7-v2+er7"}}, ClientID: f.lis, ClientName: "LIS"})
	if err != nil {
		f.t.Fatal(err)
	}
	return res, ackSegments(f.t, res)
}

// ackSegments reads an ACK: each segment's fields by the segment's name (the last of a
// name; ERR segments joined).
func ackSegments(t *testing.T, res *sdk.Response) map[string][]string {
	t.Helper()
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "x-application/hl7-v2+er7") {
		t.Fatalf("content type %q: %s", ct, res.Body)
	}
	out := map[string][]string{}
	for _, seg := range strings.Split(strings.TrimRight(string(res.Body), "\r"), "\r") {
		fields := strings.Split(seg, "|")
		if fields[0] == "ERR" && out["ERR"] != nil {
			out["ERR"] = append(out["ERR"], fields...)
			continue
		}
		out[fields[0]] = fields
	}
	if len(out["MSH"]) < 12 || out["MSH"][8] != "ACK^R01^ACK" || len(out["MSA"]) < 3 {
		t.Fatalf("not an ACK: %q", res.Body)
	}
	return out
}

// TestHL7ORUImportsThroughTheOneImportPath: a laboratory system sends a published HL7
// v2.5.1 ORU^R01 (NIST's test message) with its PDF in an ED segment; it is stored as the
// import API stores a report — patient matched to his account, the value with its unit,
// range text and flag — and acknowledged AA; sending it again changes nothing and is
// acknowledged AA too (R3, issue 12.12).
func TestHL7ORUImportsThroughTheOneImportPath(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		philip := f.patient(f.A, "u-philip", "Philip Johnson", "Johnson", "2007-05-26")
		msg := f.hl7Example("nist-oru-r01-2.5.1-case1.hl7")
		res, ack := f.hl7(f.A, msg)
		if res.Status != http.StatusCreated || ack["MSA"][1] != "AA" || ack["MSA"][2] != "NIST-100929110701660" {
			t.Fatalf("ack %d %q", res.Status, res.Body)
		}
		// Addressed back to the sender, in its version.
		if ack["MSH"][2] != "PH Application^2.16.840.1.113883.3.72.7.3^HL7" || ack["MSH"][4] != "EHR Application^2.16.840.1.113883.3.72.7.1^HL7" ||
			ack["MSH"][11] != "2.5.1" || ack["MSA"][3] != f.m.Msgs.For("fr").T("results.lis.created") {
			t.Fatalf("ack header %q", res.Body)
		}
		ids := f.reportIDs(f.A)
		if len(ids) != 1 {
			t.Fatalf("reports %v", ids)
		}
		rep := f.report(f.A, ids[0])
		// The filler order number is the report id; OBR-7 (-0700) the collection.
		if rep.ReportID != "9700123" || rep.Status != "final" || rep.LabSite != "Lab" ||
			!rep.CollectedAt.Equal(time.Date(2008, 8, 15, 17, 30, 0, 0, time.UTC)) || rep.PrescriberName != "Alan Admit" {
			t.Fatalf("report %+v", rep)
		}
		if rep.Patient.LabPatientID != "9817566735" || rep.Patient.LastName != "Johnson" || rep.Patient.FirstName != "Philip" ||
			rep.Patient.BirthDate != "2007-05-26" || rep.Patient.UserID != philip.ID {
			t.Fatalf("patient %+v", rep.Patient)
		}
		if len(rep.Values) != 1 {
			t.Fatalf("values %+v", rep.Values)
		}
		lead := rep.Values[0]
		if lead.Code != "10368-9" || lead.Label != "Lead BldC-mCnc" || lead.Value != "50" || lead.Unit != "ug/dL" ||
			lead.RefText != "<9 mcg/dL:  Acceptable background lead exposure" || lead.Flag != "H" || lead.Numeric.Float64 != 50 {
			t.Fatalf("lead %+v", lead)
		}
		if len(f.h.Host.Blobs) != 1 || f.audits("results.imported") != 1 {
			t.Fatalf("blobs %d, audits %d", len(f.h.Host.Blobs), f.audits("results.imported"))
		}
		// Again: AA, nothing new.
		res, ack = f.hl7(f.A, msg)
		if res.Status != http.StatusOK || ack["MSA"][1] != "AA" || ack["MSA"][3] != f.m.Msgs.For("fr").T("results.lis.unchanged") {
			t.Fatalf("again: %d %q", res.Status, res.Body)
		}
		if len(f.reportIDs(f.A)) != 1 || len(f.h.Host.Blobs) != 1 || f.audits("results.imported") != 1 {
			t.Fatal("a message sent twice was stored twice")
		}

		// The HL7 ELR guide's example (in tenant B: its order number is NIST's too), with
		// line feeds between segments as many senders write them: the legal name among two,
		// numeric and text results; the result whose value the message left empty (its
		// OBX-5: the published message shifts it to OBX-7) is none.
		elr := strings.ReplaceAll(f.hl7Example("hl7-elr-oru-r01-hepatitis-c.hl7"), "\r", "\n")
		if res, ack := f.hl7(f.B, elr); res.Status != http.StatusCreated || ack["MSA"][1] != "AA" {
			t.Fatalf("ELR: %d %q", res.Status, res.Body)
		}
		adam := f.report(f.B, f.reportIDs(f.B)[0])
		if adam.Patient.LastName != "Everyman" || adam.Patient.FirstName != "Adam" || adam.Patient.LabPatientID != "36363636" ||
			adam.Patient.BirthDate != "1980-06-02" || adam.LabSite != "GHH Lab" || len(adam.Values) != 2 {
			t.Fatalf("ELR report %+v %+v", adam, adam.Patient)
		}
		if v := adam.Values[0]; v.Code != "35659-2" || v.Value != "29" || v.Unit != "a" {
			t.Errorf("age %+v", v)
		}
		if v := adam.Values[1]; v.Code != "11294-6" || v.Value != "food handler" || v.Numeric.Valid {
			t.Errorf("text %+v", v)
		}
	})
}

// TestHL7RefusesWhatItCannotImport: what is no ORU^R01 the module reads is acknowledged AR
// (400); a report with fields at fault AE (422), an ERR segment per field saying where it
// is and what is wrong in the tenant's language; a PDF sent as a link (RP) is refused;
// nothing is stored (R3, issue 12.12).
func TestHL7RefusesWhatItCannotImport(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		fr := f.m.Msgs.For("fr")
		msg := f.hl7Example("nist-oru-r01-2.5.1-case1.hl7")
		for name, c := range map[string]struct{ body, text, err string }{
			"not HL7":        {"{\"report_id\":\"R-1\"}", "results.lis.hl7_unreadable", "102"},
			"control char":   {strings.Replace(msg, "Johnson", "John\x00son", 1), "results.lis.hl7_unreadable", "102"},
			"an ADT":         {strings.Replace(msg, "ORU^R01^ORU_R01", "ADT^A01^ADT_A01", 1), "results.lis.hl7_not_oru", "200"},
			"version 2.2":    {strings.Replace(msg, "|2.5.1|", "|2.2|", 1), "results.lis.hl7_version", "203"},
			"two patients":   {msg + strings.Split(msg, "\r")[2] + "\r", "results.lis.hl7_one_patient", "100"},
			"a link for PDF": {strings.Replace(msg, "|ED|PDF", "|RP|PDF", 1), "results.err.link_not_accepted", "102"},
		} {
			res, err := f.h.Send(context.Background(), f.A, nil, &sdk.Request{Method: "POST", Path: "/results/api/hl7", Body: []byte(c.body),
				Header: http.Header{"Content-Type": {"text/plain"}}, ClientID: f.lis})
			if err != nil {
				t.Fatal(err)
			}
			ack := ackSegments(t, res)
			if res.Status != http.StatusBadRequest || ack["MSA"][1] != "AR" || ack["ERR"][3] != c.err+"^"+hl7ErrNames[c.err]+"^HL70357" ||
				ack["ERR"][8] != hl7Escape(fr.T(c.text)) {
				t.Errorf("%s: %d %q", name, res.Status, res.Body)
			}
		}

		// Fields at fault: each named where it is.
		bad := strings.Replace(msg, "|20070526|", "|2007|", 1)
		bad = strings.Replace(bad, "Johnson^Philip", "^Philip", 1)
		bad = strings.Replace(bad, "|||F||||||787.91", "|||I||||||787.91", 1) // OBR-25: specimen received, no result
		res, ack := f.hl7(f.A, bad)
		if res.Status != http.StatusUnprocessableEntity || ack["MSA"][1] != "AE" {
			t.Fatalf("fields at fault: %d %q", res.Status, res.Body)
		}
		got := map[string]string{}
		for i := 0; i+8 < len(ack["ERR"]); i += 9 {
			got[ack["ERR"][i+2]] = ack["ERR"][i+8]
		}
		for loc, code := range map[string]string{"PID^1^7": "invalid_date", "PID^1^5^1^1": "required", "OBR^1^25": "invalid_choice"} {
			if got[loc] != hl7Escape(fr.T(errKey(code))) {
				t.Errorf("%s: %q, want %q (all %q)", loc, got[loc], fr.T(errKey(code)), res.Body)
			}
		}
		if len(f.reportIDs(f.A)) != 0 || len(f.h.Host.Blobs) != 0 {
			t.Fatal("a refused message stored something")
		}
		res, _ = f.h.Send(context.Background(), f.A, &sdk.User{ID: "u"}, &sdk.Request{Method: "POST", Path: "/results/api/hl7", Body: []byte(msg)})
		if res.Status != http.StatusUnauthorized {
			t.Fatalf("without a client: %d", res.Status)
		}
		f.noMissingMessages()
	})
}

// TestStandardImportsRaceToOneReport: a LIS that resends a message before its ACK came
// back — the same ORU^R01, the same Bundle, several at once — stores one report each: the
// database's unique report id holds it; every answer is a success (R3, issue 12.12).
func TestStandardImportsRaceToOneReport(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		msg := f.hl7Example("nist-oru-r01-2.5.1-case1.hl7")
		bundle := f.fhirExample("diagnosticreport-example-lipids.json")
		created := f.race(8, func(i int) int {
			if i%2 == 0 {
				res, _ := f.hl7(f.A, msg)
				return res.Status
			}
			res, _ := f.fhir(f.A, bundle)
			return res.Status
		})
		if created != 2 || len(f.reportIDs(f.A)) != 2 || len(f.h.Host.Blobs) != 2 || f.audits("results.imported") != 2 {
			t.Fatalf("created %d, stored %d, PDFs %d: one report per message", created, len(f.reportIDs(f.A)), len(f.h.Host.Blobs))
		}
	})
}

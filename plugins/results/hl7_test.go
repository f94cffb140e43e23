package results

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"carenet.dev/platform/plugins/kit/store"
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
		f.storedNothing("/results/api/hl7", []byte(msg))
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

// TestER7ReadsAsTheStandardSays: the ER7 reader takes the separators MSH declares, decodes
// escapes, reads ISO 8859-1 where MSH-18 says so, and maps structured numeric values,
// coded answers, ranges and statuses as HL7 v2.5 defines them (R3, issue 12.12).
func TestER7ReadsAsTheStandardSays(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	read := func(msg []byte) (*Incoming, fieldErrs, *hl7Problem) {
		t.Helper()
		m, err := parseER7(msg)
		if err != nil {
			t.Fatalf("parse %q: %v", msg, err)
		}
		in, _, pre, problem := readORU(m, paris)
		return in, pre, problem
	}
	// Other separators, an escaped separator in a name, ISO 8859-1, a time with no zone.
	latin := []byte("MSH#:!?@#LIS#LAB#####ORU:R01#1#P#2.5######8859/1\r" +
		"PID###P-9:::::MR##Lef\xe8vre?T?Dupont:Ana\xefs:::::L!Martin::::::M##19790412\r" +
		"OBR#1##R-9######################F\r" +
		"OBX#1#SN#5066-6:BRUCELLA ABORTUS AB:LN##:100:?S?:150#mcg/dL##H!POS###F\r")
	in, pre, problem := read(latin)
	if problem != nil || len(pre) != 0 {
		t.Fatalf("problem %v %v", problem, pre)
	}
	if in.Patient.LastName != "Lefèvre@Dupont" || in.Patient.FirstName != "Anaïs" || in.Patient.BirthName != "Martin" ||
		in.Patient.LabPatientID != "P-9" || in.Patient.BirthDate != "1979-04-12" || in.ReportID != "R-9" || in.Status != "final" {
		t.Fatalf("incoming %+v", in)
	}
	if v := in.Values[0]; v.Value != "100:150" || v.Unit != "mcg/dL" || v.Flag != "H" || v.Label != "BRUCELLA ABORTUS AB" {
		t.Fatalf("SN %+v", v)
	}
	if got := hl7Time("200808151030", paris); got != "2008-08-15T10:30:00+02:00" {
		t.Errorf("time without a zone: %s", got)
	}
	if got := hl7Time("200808151030-0700", paris); got != "2008-08-15T10:30:00-07:00" {
		t.Errorf("time with a zone: %s", got)
	}

	// Published OBX segments (HL7's own ORU test messages of 2005, in the FHIR repository's
	// diagnosticreport sources): SN with a range and a flag, a coded answer, a correction.
	base := "MSH|^~\\&|LIS|LAB|||200511221912||ORU^R01^ORM_R01|C1|D|2.5\rPID|1||P-1^^^^MR||Doe^Jane||19840201|F\r"
	for obr25, want := range map[string]string{"F": "final", "C": "final", "P": "partial", "A": "partial", "X": "OBR-25 X"} {
		in, _, _ := read([]byte(base + "OBR|1||EM-83|^^^160218^Rubeola Antibodies, IgM^L|||200511220100|||||||200511220755|||||||||||" + obr25 + "\r" +
			"OBX|1|SN|7963-2^RUBEOLA VIRUS AB.IGM^2.16.840.1.113883.6.1^160219^Rubeola Antibodies, IgM^L||^5.60|AU|0.00-0.89|H|||F|||20051121100258|^LABCORP BURLINGTON^CLIA||\r" +
			"OBX|2|CE|13951-9^HEPATITIS A VIRUS AB^2.16.840.1.113883.6.1^006726^Hep A Ab, Total^L||^^^P^POSITIVE^L|||A|||F|||20051122|34D0655059^LABCORP BURLINGTON^CLIA||EIA\r"))
		if in.Status != want {
			t.Errorf("OBR-25 %s: status %q, want %q", obr25, in.Status, want)
		}
		if obr25 != "F" {
			continue
		}
		sn, ce := in.Values[0], in.Values[1]
		if sn.Value != "5.60" || sn.Unit != "AU" || *sn.Low != 0 || *sn.High != 0.89 || sn.Flag != "H" || sn.Code != "7963-2" {
			t.Errorf("SN %+v", sn)
		}
		// OBX-15 names the producer, not the performing lab (OBX-23): the lab is the sender's.
		if ce.Value != "POSITIVE" || ce.Flag != "A" || ce.Low != nil || in.Lab != "LAB" {
			t.Errorf("CE %+v, lab %q", ce, in.Lab)
		}
	}
	for name, msg := range map[string]string{"no MSH": "PID|1\r", "separators": "MSH|^^\\&|A\r", "charset": "MSH|^~\\&|A|B|||||ORU^R01|1|P|2.5||||||EBCDIC\r"} {
		if _, err := parseER7([]byte(msg)); err == nil {
			t.Errorf("%s: read", name)
		}
	}
}

// TestFHIRStatusesMapOntoTheModules: preliminary and partial reports are partial; final,
// amended and corrected final (a later version of the same report id); any other status is
// none of the module's, refused by the check (R3, issue 12.12).
func TestFHIRStatusesMapOntoTheModules(t *testing.T) {
	want := map[fhir.DiagnosticReportStatus]string{fhir.DiagnosticReportStatusPreliminary: "partial", fhir.DiagnosticReportStatusPartial: "partial",
		fhir.DiagnosticReportStatusFinal: "final", fhir.DiagnosticReportStatusAmended: "final", fhir.DiagnosticReportStatusCorrected: "final"}
	for s := fhir.DiagnosticReportStatusRegistered; s <= fhir.DiagnosticReportStatusUnknown; s++ {
		got := fhirStatus(s)
		if w, ok := want[s]; ok && got != w || !ok && statuses[got] {
			t.Errorf("%s: %q", s.Code(), got)
		}
	}
}

// TestStandardImportsAnswerAFailureInTheirShape: when the report cannot be stored (here its
// values' table is gone), the cause is logged as every 500's, the LIS reads an HL7 ACK (AE,
// error 207) or a FHIR OperationOutcome with a sentence in the tenant's language, and
// nothing is kept (R3, issue 12.12).
func TestStandardImportsAnswerAFailureInTheirShape(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		var logs bytes.Buffer
		f.m.Log = slog.New(slog.NewJSONHandler(&logs, nil))
		if b != "sqlite" {
			// The module's role does not own its tables on PostgreSQL; the path is the same.
			t.Skip("a table is removed on SQLite only")
		}
		f.in(f.A, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Select((*Value)(nil)).NewRaw("ALTER TABLE results_values RENAME TO results_values_gone").Exec(ctx)
			return err
		})
		generic := f.m.Msgs.For("fr").T("error.generic.text")
		res, ack := f.hl7(f.A, f.hl7Example("nist-oru-r01-2.5.1-case1.hl7"))
		if res.Status != http.StatusInternalServerError || ack["MSA"][1] != "AE" || ack["ERR"][3] != "207^Application internal error^HL70357" ||
			ack["ERR"][8] != hl7Escape(generic) || strings.Contains(string(res.Body), "results_values") {
			t.Fatalf("HL7: %d %q", res.Status, res.Body)
		}
		res, out := f.fhir(f.A, f.fhirExample("diagnosticreport-example-lipids.json"))
		if res.Status != http.StatusInternalServerError || out["resourceType"] != "OperationOutcome" ||
			!strings.Contains(string(res.Body), generic) || strings.Contains(string(res.Body), "results_values") {
			t.Fatalf("FHIR: %d %s", res.Status, res.Body)
		}
		if n := strings.Count(logs.String(), `"msg":"module request failed"`); n != 2 || !strings.Contains(logs.String(), "results_values") {
			t.Fatalf("causes logged %d times: %s", n, logs.String())
		}
		if len(f.h.Host.Blobs) != 0 {
			t.Fatalf("%d PDFs kept", len(f.h.Host.Blobs))
		}
	})
}

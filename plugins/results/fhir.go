package results

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/input"
)

// fhirImport is the LIS's FHIR door (R3, issue 12.12): POST /results/api/fhir with a FHIR
// R4 Bundle (transaction or collection) holding one DiagnosticReport — its PDF in
// presentedForm —, its Patient and its Observations. The Bundle is read with the FHIR R4
// models and becomes an Incoming, which takes the import API's path (receive). The answer
// is FHIR: a transaction-response Bundle, or an OperationOutcome naming each problem.
func (m *Module) fhirImport(c *kit.Ctx) error {
	if c.Req.ClientID == "" {
		return m.fhirOutcome(c, http.StatusUnauthorized, fhir.IssueTypeLogin, c.T("error.api.key_missing"))
	}
	if bodyTooLarge(c) {
		return m.fhirOutcome(c, http.StatusRequestEntityTooLarge, fhir.IssueTypeTooLong, c.T("error.too_large.text"))
	}
	// The one check of the text a module receives (the frame's, for a JSON body), answered
	// in FHIR: a body that is not JSON, or a string that is not text, named by its path.
	bad, err := input.JSON(c.Req.Body, fhirLines)
	if err != nil {
		return m.fhirOutcome(c, http.StatusBadRequest, fhir.IssueTypeStructure, c.T("results.lis.fhir_not_bundle"))
	}
	if len(bad) > 0 {
		out := fhir.OperationOutcome{}
		for _, f := range sortedFields(bad) {
			out.Issue = append(out.Issue, fhir.OperationOutcomeIssue{Severity: fhir.IssueSeverityError, Code: fhir.IssueTypeInvalid,
				Diagnostics: ptrTo(c.T(bad[f])), Expression: []string{f}})
		}
		return c.JSON(http.StatusUnprocessableEntity, out)
	}
	in, paths, pre, problem := readFHIR(c.Req.Body)
	if problem != "" {
		return m.fhirOutcome(c, http.StatusBadRequest, fhir.IssueTypeStructure, c.T(problem))
	}
	errs, res, err := m.receive(c, in, pre, "fhir:"+c.Req.ClientID)
	if err != nil {
		// Logged as every 500; the LIS reads an OperationOutcome.
		c.LogFailure(err)
		return m.fhirOutcome(c, http.StatusInternalServerError, fhir.IssueTypeException, c.T("error.generic.text"))
	}
	if len(errs) > 0 {
		out := fhir.OperationOutcome{}
		for _, f := range sortedFields(errs) {
			code := fhir.IssueTypeInvalid
			if errs[f] == "required" {
				code = fhir.IssueTypeRequired
			}
			out.Issue = append(out.Issue, fhir.OperationOutcomeIssue{Severity: fhir.IssueSeverityError, Code: code,
				Diagnostics: ptrTo(c.T(errKey(errs[f]))), Expression: []string{paths.of(f)}})
		}
		return c.JSON(http.StatusUnprocessableEntity, out)
	}
	// Created, amended (a new version of a known report) or unchanged (R3, issue 12.2).
	status, line, what := http.StatusOK, "200 OK", "results.lis."+res.What()
	if res.Created {
		status, line = http.StatusCreated, "201 Created"
	}
	outcome, _ := json.Marshal(fhir.OperationOutcome{Issue: []fhir.OperationOutcomeIssue{{Severity: fhir.IssueSeverityInformation,
		Code: fhir.IssueTypeInformational, Diagnostics: ptrTo(c.T(what))}}})
	return c.JSON(status, fhir.Bundle{Type: fhir.BundleTypeTransactionResponse, Entry: []fhir.BundleEntry{{
		Response: &fhir.BundleEntryResponse{Status: line, Location: ptrTo("DiagnosticReport/" + res.Report.ID), Outcome: outcome}}}})
}

// fhirLines are the texts of a Bundle that may hold line breaks: the narrative, notes,
// conclusions, and base64 data, which senders wrap.
var fhirLines = input.Fields{"entry.*.resource.presentedForm.*.data": true, "entry.*.resource.text.div": true,
	"entry.*.resource.conclusion": true, "entry.*.resource.note.*.text": true}

// fhirOutcome answers one problem as an OperationOutcome.
func (m *Module) fhirOutcome(c *kit.Ctx, status int, code fhir.IssueType, text string) error {
	return c.JSON(status, fhir.OperationOutcome{Issue: []fhir.OperationOutcomeIssue{{Severity: fhir.IssueSeverityError, Code: code, Diagnostics: &text}}})
}

func ptrTo[T any](v T) *T { return &v }

// fhirStatus maps a DiagnosticReport's status onto the module's: a preliminary or partial
// report is "partial"; a final, amended or corrected one is "final" (a newer version of the
// same report id). Any other status (registered, cancelled, entered-in-error…) is refused.
func fhirStatus(s fhir.DiagnosticReportStatus) string {
	switch s {
	case fhir.DiagnosticReportStatusPreliminary, fhir.DiagnosticReportStatusPartial:
		return "partial"
	case fhir.DiagnosticReportStatusFinal, fhir.DiagnosticReportStatusAmended, fhir.DiagnosticReportStatusCorrected:
		return "final"
	}
	return s.Code() // not a status of the module: the check refuses it
}

// resource is one entry of a Bundle, its type read first.
type resource struct {
	Type string `json:"resourceType"`
	ID   string `json:"id"`
	raw  json.RawMessage
	n    int // its entry's index
}

// readFHIR reads a Bundle into an Incoming. problem is the message id of what makes the body
// no Bundle the module can read (400); pre holds the problems of fields it read (422, with
// the check's), paths where each field came from.
func readFHIR(body []byte) (in *Incoming, paths sources, pre fieldErrs, problem string) {
	var head resource
	if err := json.Unmarshal(body, &head); err != nil || head.Type != "Bundle" {
		return nil, nil, nil, "results.lis.fhir_not_bundle"
	}
	// The models read a code as its raw JSON: "\u003c" (an escaped "<", as many encoders
	// write it) would be an unknown comparator. Written again without escapes, each code
	// reads as the text it is.
	var doc any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, nil, nil, "results.lis.fhir_not_bundle"
	}
	var plain bytes.Buffer
	enc := json.NewEncoder(&plain)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, nil, nil, "results.lis.fhir_not_bundle"
	}
	body = plain.Bytes()
	b, err := fhir.UnmarshalBundle(body)
	if err != nil || (b.Type != fhir.BundleTypeTransaction && b.Type != fhir.BundleTypeCollection) {
		return nil, nil, nil, "results.lis.fhir_not_bundle"
	}
	// Each entry by the names a reference may use: its fullUrl, and "Type/id".
	byRef := map[string]resource{}
	var reports []resource
	for i, e := range b.Entry {
		var r resource
		if err := json.Unmarshal(e.Resource, &r); err != nil || r.Type == "" {
			return nil, nil, nil, "results.lis.fhir_not_bundle"
		}
		r.raw, r.n = e.Resource, i
		if e.FullUrl != nil {
			byRef[*e.FullUrl] = r
		}
		if r.ID != "" {
			byRef[r.Type+"/"+r.ID] = r
		}
		if r.Type == "DiagnosticReport" {
			reports = append(reports, r)
		}
	}
	if len(reports) != 1 {
		return nil, nil, nil, "results.lis.fhir_one_report"
	}
	dr, err := fhir.UnmarshalDiagnosticReport(reports[0].raw)
	if err != nil {
		return nil, nil, nil, "results.lis.fhir_unreadable"
	}
	lookup := func(ref *fhir.Reference, typ string) (resource, bool) {
		if ref == nil || ref.Reference == nil {
			return resource{}, false
		}
		r, ok := byRef[*ref.Reference]
		if !ok {
			// A relative reference against an absolute fullUrl: ".../Patient/pat2".
			for k, v := range byRef {
				if strings.HasSuffix(k, "/"+*ref.Reference) {
					r, ok = v, true
					break
				}
			}
		}
		return r, ok && r.Type == typ
	}

	in = &Incoming{}
	pre = fieldErrs{}
	paths = sources{"": "Bundle", "report_id": "DiagnosticReport.identifier", "status": "DiagnosticReport.status",
		"collected_at": "DiagnosticReport.effective", "pdf": "DiagnosticReport.presentedForm", "lab": "DiagnosticReport.performer",
		"patient.lab_patient_id": "Patient.identifier", "patient.last_name": "Patient.name.family", "patient.first_name": "Patient.name.given",
		"patient.birth_name": "Patient.name", "patient.birth_date": "Patient.birthDate", "values": "DiagnosticReport.result",
		"prescriber.register_number": "Practitioner.identifier", "prescriber.name": "Practitioner.name"}

	// The report: the lab's identifier, else the resource's id.
	for _, id := range dr.Identifier {
		if id.Value != nil && *id.Value != "" {
			in.ReportID = *id.Value
			break
		}
	}
	if in.ReportID == "" && dr.Id != nil {
		in.ReportID, paths["report_id"] = *dr.Id, "DiagnosticReport.id"
	}
	in.Status = fhirStatus(dr.Status)
	switch {
	case dr.EffectiveDateTime != nil:
		in.CollectedAt = *dr.EffectiveDateTime
	case dr.EffectivePeriod != nil && dr.EffectivePeriod.Start != nil:
		in.CollectedAt = *dr.EffectivePeriod.Start
	}
	for _, p := range dr.Performer {
		if r, ok := lookup(&p, "Organization"); ok {
			var o struct {
				Name string `json:"name"`
			}
			if json.Unmarshal(r.raw, &o) == nil && o.Name != "" {
				in.Lab = o.Name
				break
			}
		}
		if p.Display != nil {
			in.Lab = *p.Display
			break
		}
	}

	// The PDF: the first presentedForm that is a PDF, sent in the Bundle (a link is not
	// fetched: the module reaches no address a sender names).
	for _, a := range dr.PresentedForm {
		if a.ContentType == nil || !strings.EqualFold(strings.TrimSpace(*a.ContentType), "application/pdf") {
			continue
		}
		if a.Data == nil {
			pre.add("pdf", "link_not_accepted")
			break
		}
		data, err := base64.StdEncoding.DecodeString(*a.Data)
		if err != nil {
			pre.add("pdf", "invalid_base64")
			break
		}
		in.PDF = data
		if a.Title != nil {
			in.PDFName = *a.Title
		}
		break
	}

	// The patient: the report's subject, in the Bundle.
	pr, ok := lookup(dr.Subject, "Patient")
	if !ok {
		pre.add("patient.lab_patient_id", "required")
	} else if p, err := fhir.UnmarshalPatient(pr.raw); err != nil {
		return nil, nil, nil, "results.lis.fhir_unreadable"
	} else {
		in.Patient = fhirPatient(p)
	}

	// The prescriber: the requester of the order the report answers, when the Bundle has it.
	for _, ref := range dr.BasedOn {
		sr, ok := lookup(&ref, "ServiceRequest")
		if !ok {
			continue
		}
		var req struct {
			Requester *fhir.Reference `json:"requester"`
		}
		if json.Unmarshal(sr.raw, &req) != nil || req.Requester == nil {
			continue
		}
		if pr, ok := lookup(req.Requester, "Practitioner"); ok {
			var doc struct {
				Identifier []fhir.Identifier `json:"identifier"`
				Name       []fhir.HumanName  `json:"name"`
			}
			if json.Unmarshal(pr.raw, &doc) == nil {
				for _, id := range doc.Identifier {
					// Only a register number the module knows the shape of (RPPS, 11
					// digits in France): another identifier is not one.
					if id.Value != nil && proNumberRe.MatchString(*id.Value) {
						in.Prescriber.RegisterNumber = *id.Value
						break
					}
				}
				if len(doc.Name) > 0 {
					in.Prescriber.Name = humanName(doc.Name[0])
				}
			}
		}
		if in.Prescriber.Name == "" && req.Requester.Display != nil {
			in.Prescriber.Name = *req.Requester.Display
		}
		break
	}

	// The values: each result, a panel's members in their order.
	seen := map[int]bool{}
	var walk func(refs []fhir.Reference, depth int) bool
	walk = func(refs []fhir.Reference, depth int) bool {
		for _, ref := range refs {
			r, ok := lookup(&ref, "Observation")
			if !ok {
				pre.add("values", "unknown_result")
				paths["values"] = "DiagnosticReport.result"
				continue
			}
			if seen[r.n] || depth > 3 {
				continue
			}
			seen[r.n] = true
			o, err := fhir.UnmarshalObservation(r.raw)
			if err != nil {
				return false
			}
			if len(o.HasMember) > 0 {
				if !walk(o.HasMember, depth+1) {
					return false
				}
				continue
			}
			if v, ok := fhirValue(o); ok {
				paths[fmt.Sprintf("values.%d.", len(in.Values))] = fmt.Sprintf("Bundle.entry[%d].resource", r.n)
				in.Values = append(in.Values, v)
			}
		}
		return true
	}
	if !walk(dr.Result, 0) {
		return nil, nil, nil, "results.lis.fhir_unreadable"
	}
	return in, paths, pre, ""
}

// fhirPatient reads the identity of a Patient: the lab's record number (the identifier of
// type MR, else the first), the official name (its family and given names), the maiden
// name as the birth name, and the birth date.
func fhirPatient(p fhir.Patient) IncomingPatient {
	var out IncomingPatient
	for _, id := range p.Identifier {
		if id.Value == nil {
			continue
		}
		mr := id.Type != nil && hasCode(*id.Type, "MR")
		if out.LabPatientID == "" || mr {
			out.LabPatientID = *id.Value
		}
		if mr {
			break
		}
	}
	var official *fhir.HumanName
	for i := range p.Name {
		n := &p.Name[i]
		switch {
		case n.Use != nil && *n.Use == fhir.NameUseMaiden:
			if n.Family != nil {
				out.BirthName = *n.Family
			}
		case official == nil || (n.Use != nil && *n.Use == fhir.NameUseOfficial && (official.Use == nil || *official.Use != fhir.NameUseOfficial)):
			official = n
		}
	}
	if official != nil {
		if official.Family != nil {
			out.LastName = *official.Family
		}
		out.FirstName = strings.Join(official.Given, " ")
	}
	if p.BirthDate != nil {
		out.BirthDate = *p.BirthDate
	}
	return out
}

func humanName(n fhir.HumanName) string {
	if n.Text != nil {
		return *n.Text
	}
	parts := append([]string{}, n.Prefix...)
	parts = append(parts, n.Given...)
	if n.Family != nil {
		parts = append(parts, *n.Family)
	}
	return strings.Join(parts, " ")
}

func hasCode(cc fhir.CodeableConcept, code string) bool {
	for _, c := range cc.Coding {
		if c.Code != nil && *c.Code == code {
			return true
		}
	}
	return false
}

// fhirValue reads one Observation as a value: its code (LOINC first) and name, its value
// (a quantity with its comparator, a text, a coded answer's words, an integer), its unit,
// reference range and interpretation. An Observation with no value (absent data) is none.
func fhirValue(o fhir.Observation) (IncomingValue, bool) {
	var v IncomingValue
	for _, c := range o.Code.Coding {
		if c.Code == nil {
			continue
		}
		if v.Code == "" || (c.System != nil && *c.System == "http://loinc.org") {
			v.Code = *c.Code
			if c.Display != nil {
				v.Label = *c.Display
			}
		}
	}
	if o.Code.Text != nil && *o.Code.Text != "" {
		v.Label = *o.Code.Text
	}
	switch {
	case o.ValueQuantity != nil && o.ValueQuantity.Value != nil:
		q := o.ValueQuantity
		v.Value = q.Value.String()
		if q.Comparator != nil {
			v.Value = q.Comparator.Code() + v.Value
		}
		if q.Unit != nil {
			v.Unit = *q.Unit
		} else if q.Code != nil {
			v.Unit = *q.Code
		}
	case o.ValueString != nil:
		v.Value = *o.ValueString
	case o.ValueInteger != nil:
		v.Value = strconv.Itoa(*o.ValueInteger)
	case o.ValueCodeableConcept != nil:
		v.Value = conceptText(*o.ValueCodeableConcept)
	default:
		return v, false
	}
	if len(o.ReferenceRange) > 0 {
		rr := o.ReferenceRange[0]
		v.Low, v.High = quantityValue(rr.Low), quantityValue(rr.High)
		if rr.Text != nil {
			v.RefText = *rr.Text
		}
	}
	for _, cc := range o.Interpretation {
		for _, c := range cc.Coding {
			if c.Code != nil {
				if f, ok := flagOf(*c.Code); ok {
					v.Flag = f
					return v, true
				}
			}
		}
	}
	return v, true
}

func conceptText(cc fhir.CodeableConcept) string {
	if cc.Text != nil && *cc.Text != "" {
		return *cc.Text
	}
	for _, c := range cc.Coding {
		if c.Display != nil && *c.Display != "" {
			return *c.Display
		}
	}
	for _, c := range cc.Coding {
		if c.Code != nil {
			return *c.Code
		}
	}
	return ""
}

func quantityValue(q *fhir.Quantity) *float64 {
	if q == nil || q.Value == nil {
		return nil
	}
	f, err := q.Value.Float64()
	if err != nil {
		return nil
	}
	return &f
}

// flagOf maps an interpretation code — FHIR's ObservationInterpretation, HL7 v2's table
// 0078, the same codes — onto the module's flags. A code the module has no flag for is none
// (the value's range still shows).
func flagOf(code string) (string, bool) {
	switch strings.ToUpper(strings.TrimSpace(code)) {
	case "N", "NEG", "ND":
		return "N", true
	case "H", ">":
		return "H", true
	case "L", "<":
		return "L", true
	case "HH", "HU":
		return "HH", true
	case "LL", "LU":
		return "LL", true
	case "A", "AA", "POS", "DET":
		return "A", true
	}
	return "", false
}

package results

import (
	"sort"
	"strings"

	"carenet.dev/platform/plugins/kit"
)

// A laboratory system sends its reports in one of three shapes: the import API's own JSON
// (api.go), a FHIR R4 Bundle (fhir.go) or an HL7 v2.5 ORU^R01 message (hl7.go). Each is
// read into an Incoming, then takes the one path below: the same checks, the same matching,
// idempotence and audit (R3).

// maxPDF is the tenant's limit on a report's PDF, in bytes.
func maxPDF(c *kit.Ctx) int64 { return maxPDFMB.Of(c.Tenant()) << 20 }

// bodyTooLarge reports whether the request's body is larger than a report with the largest
// PDF the tenant accepts can be, in base64, with a megabyte for the rest.
func bodyTooLarge(c *kit.Ctx) bool { return int64(len(c.Req.Body)) > maxPDF(c)*4/3+(1<<20) }

// receive checks in (its PDF decoded; pre holds the problems its reader found already) and
// stores it through importReport: it answers every field problem at once and stores
// nothing then, or what the import did.
func (m *Module) receive(c *kit.Ctx, in *Incoming, pre fieldErrs, source string) (fieldErrs, *importResult, error) {
	errs := in.check(maxPDF(c), m.now(), tenantLoc(c.Tenant()))
	for f, code := range pre {
		errs[f] = code
	}
	if len(errs) > 0 {
		return errs, nil, nil
	}
	res, err := m.importReport(c.Context(), c.Tenant(), in, source)
	if err != nil {
		return nil, nil, err
	}
	if res.Created {
		if err := m.recordImport(c.Context(), res); err != nil {
			return nil, nil, err
		}
	}
	return nil, res, nil
}

// sortedFields are the fields of errs in order, for an answer that reads the same each time.
func sortedFields[M ~map[string]string](errs M) []string {
	out := make([]string, 0, len(errs))
	for f := range errs {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// sources names, for each field of an Incoming, where it came from in what the LIS sent (a
// FHIRPath expression, an HL7 location "PID^1^7"), so that an answer points at its own
// data; a value's field falls back on its value's ("values.2."), then on the whole ("").
type sources map[string]string

func (s sources) of(field string) string {
	if e, ok := s[field]; ok {
		return e
	}
	if i := strings.LastIndexByte(field, '.'); i > 0 {
		if e, ok := s[field[:i+1]]; ok {
			return e
		}
	}
	return s[""]
}

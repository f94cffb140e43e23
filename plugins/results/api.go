package results

import (
	"encoding/base64"
	"net/http"

	"carenet.dev/platform/plugins/kit"
)

// apiImport is the LIS's door (R3a): POST /results/api/reports with a JSON report, called
// with one of the tenant's API keys (the core checks it). The same report id names one
// report: the same content again answers 200 "unchanged", other content 200 "amended" with
// the new version (R3, issue 12.2).
func (m *Module) apiImport(c *kit.Ctx) error {
	if c.Req.ClientID == "" {
		return c.JSON(http.StatusUnauthorized, kit.APIError{Error: "unauthorized", Message: c.T("error.api.key_missing"), Fields: map[string]string{}})
	}
	if bodyTooLarge(c) {
		return c.JSON(http.StatusRequestEntityTooLarge, kit.APIError{Error: "too_large", Message: c.T("error.too_large.text"), Fields: map[string]string{}})
	}
	// The frame refused any string that is not text; a value of the wrong type is named.
	var in Incoming
	if err := c.DecodeJSON(&in); err != nil {
		return err
	}
	pre := fieldErrs{}
	var err error
	in.PDF, err = base64.StdEncoding.DecodeString(in.PDFBase64)
	in.PDFBase64 = ""
	if err != nil {
		pre["pdf"] = "invalid_base64"
	}
	errs, res, err := m.receive(c, &in, pre, "api:"+c.Req.ClientID)
	if err != nil {
		return err
	}
	if len(errs) > 0 {
		fields := map[string]string{}
		for f, code := range errs {
			fields[f] = errKey(code)
		}
		return c.APIInvalid("invalid_report", fields)
	}
	// The answer says what the import did: created (201), amended (a new version of a known
	// report) or unchanged (the same content again).
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	return c.JSON(status, map[string]any{"id": res.Report.ID, "report_id": res.Report.ReportID, "status": res.What(),
		"version": res.Report.Version, "linked": res.Linked})
}

package results

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"sort"

	"carenet.dev/platform/plugins/kit"
)

// apiError is one problem of an API request: the field, a stable code and its message in
// the tenant's language.
type apiError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// apiImport is the LIS's door (R3a): POST /results/api/reports with a JSON report, called
// with one of the tenant's API keys (the core checks it). The same report id twice stores
// one report: the second call answers 200 with the first one's id.
func (m *Module) apiImport(c *kit.Ctx) error {
	loc := c.Loc()
	if c.Req.ClientID == "" {
		return c.JSON(http.StatusUnauthorized, map[string]any{"error": "api_key_required"})
	}
	maxPDF := maxPDFMB.Of(c.Tenant()) << 20
	body, err := io.ReadAll(io.LimitReader(c.R.Body, maxPDF*4/3+(1<<20)))
	if err != nil {
		return c.JSON(http.StatusBadRequest, map[string]any{"error": "unreadable_body"})
	}
	var in Incoming
	if err := json.Unmarshal(body, &in); err != nil {
		return c.JSON(http.StatusBadRequest, map[string]any{"error": "invalid_json", "message": loc.T("results.err.invalid_json")})
	}
	in.PDF, err = base64.StdEncoding.DecodeString(in.PDFBase64)
	in.PDFBase64 = ""
	errs := in.check(maxPDF, m.now(), tenantLoc(c.Tenant()))
	if err != nil {
		errs["pdf"] = "invalid_base64"
	}
	if len(errs) > 0 {
		list := make([]apiError, 0, len(errs))
		for f, code := range errs {
			list = append(list, apiError{Field: f, Code: code, Message: loc.T(errKey(code))})
		}
		sort.Slice(list, func(i, j int) bool { return list[i].Field < list[j].Field })
		return c.JSON(http.StatusUnprocessableEntity, map[string]any{"error": "invalid_report", "errors": list})
	}
	res, err := m.importReport(c.Context(), c.Tenant(), &in, "api:"+c.Req.ClientID)
	if err != nil {
		return err
	}
	status, what := http.StatusOK, "unchanged"
	if res.Created {
		status, what = http.StatusCreated, "created"
		if err := m.recordImport(c.Context(), res); err != nil {
			return err
		}
	}
	return c.JSON(status, map[string]any{"id": res.Report.ID, "report_id": res.Report.ReportID, "status": what, "linked": res.Linked})
}

package results

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"sort"

	"carenet.dev/platform/plugins/sdk"
)

// apiError is one problem of an API request: the field, a stable code and its message in
// the tenant's language.
type apiError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// apiImport is the LIS's door (R3a): POST /results/api/reports with a JSON report, called
// with one of the tenant's API keys (the core checks it). The same report id twice stores
// one report: the second call answers 200 with the first one's id.
func (m *Module) apiImport(w http.ResponseWriter, r *http.Request) {
	req := sdk.RequestFrom(r)
	ctx := r.Context()
	loc := m.Msgs.For(req.Tenant.Locale)
	if req.Client == nil {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "api_key_required"})
		return
	}
	maxPDF := req.Tenant.IntRule("results.max_pdf_mb", 20) << 20
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPDF*4/3+(1<<20)))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "unreadable_body"})
		return
	}
	var in Incoming
	if err := json.Unmarshal(body, &in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_json", "message": loc.T("results.err.invalid_json")})
		return
	}
	in.PDF, err = base64.StdEncoding.DecodeString(in.PDFBase64)
	in.PDFBase64 = ""
	errs := in.check(maxPDF, m.now(), tenantLoc(req.Tenant))
	if err != nil {
		errs["pdf"] = "invalid_base64"
	}
	if len(errs) > 0 {
		list := make([]apiError, 0, len(errs))
		for f, code := range errs {
			list = append(list, apiError{Field: f, Code: code, Message: loc.T("results.err." + code)})
		}
		sort.Slice(list, func(i, j int) bool { return list[i].Field < list[j].Field })
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": "invalid_report", "errors": list})
		return
	}
	res, err := m.importReport(ctx, req.Tenant, &in, "api:"+req.Client.ID)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "internal"})
		return
	}
	status, what := http.StatusOK, "unchanged"
	if res.Created {
		status, what = http.StatusCreated, "created"
		if err := m.recordImport(ctx, res); err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "internal"})
			return
		}
	}
	writeJSON(w, status, map[string]any{"id": res.Report.ID, "report_id": res.Report.ReportID, "status": what, "linked": res.Linked})
}

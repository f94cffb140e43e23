package calendar

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/upload"
	"carenet.dev/platform/plugins/sdk"
)

// Application is an account's request to be a doctor or a facility of the directory (C2):
// the administrator checks the register number and the documents before the role is given.
type Application struct {
	bun.BaseModel `bun:"table:calendar_applications,alias:ap"`

	TenantID       string       `bun:"tenant_id,pk"`
	ID             string       `bun:"id,pk"`
	UserID         string       `bun:"user_id"`
	Kind           string       `bun:"kind"`            // doctor, facility
	RegisterNumber string       `bun:"register_number"` // NPWZ, or the register of medical entities
	Name           string       `bun:"name"`            // the applicant's or the facility's name
	City           string       `bun:"city"`
	Documents      string       `bun:"documents"` // blob ids, comma-separated
	Status         string       `bun:"status"`    // pending, approved, refused
	Reason         string       `bun:"reason"`
	DecidedBy      string       `bun:"decided_by"`
	CreatedAt      time.Time    `bun:"created_at"`
	DecidedAt      bun.NullTime `bun:"decided_at"`
}

// docRef is a document of an application: its place in the list, from 0, and its number
// as the page shows it, from 1.
type docRef struct{ Index, N int }

// Docs are the documents that came with the application.
func (a Application) Docs() []docRef {
	var out []docRef
	for i, id := range strings.Split(a.Documents, ",") {
		if id != "" {
			out = append(out, docRef{i, i + 1})
		}
	}
	return out
}

// NumberChecks reports whether a doctor's licence number passes its check digit (the
// administrator still checks it in the register).
func (a Application) NumberChecks() bool { return a.Kind == "doctor" && validNPWZ(a.RegisterNumber) }

const (
	permVerify = "calendar.verify"

	appPending  = "pending"
	appApproved = "approved"
	appRefused  = "refused"

	tmplApplicationApproved = "calendar.application_approved"
	tmplApplicationRefused  = "calendar.application_refused"

	auditApplicationApproved = "calendar.application_approved"
	auditApplicationRefused  = "calendar.application_refused"

	maxDocuments     = 3
	maxDocumentBytes = 5 << 20
	maxReason        = 500
)

// validNPWZ reports whether s is a Polish licence number of a doctor or dentist (numer
// prawa wykonywania zawodu, as the Supreme Medical Council publishes its rule): seven
// digits KABCDEF, not starting with 0, where the check digit K is the sum of A…F weighted
// 1…6, modulo 11.
func validNPWZ(s string) bool {
	if len(s) != 7 || s[0] == '0' {
		return false
	}
	sum := 0
	for i := 0; i < 7; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		if i > 0 {
			sum += int(s[i]-'0') * i
		}
	}
	return sum%11 == int(s[0]-'0')
}

// validEntityRegister reports whether s looks like a book number of the register of
// medical entities: digits only, 5 to 12 of them (the administrator checks it in the
// register itself).
func validEntityRegister(s string) bool {
	if len(s) < 5 || len(s) > 12 {
		return false
	}
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

// applyPage is the form to apply for the doctor's or the facility's role, with the
// account's applications and what became of them (C2).
func (m *Module) applyPage(c *kit.Ctx) error {
	return m.renderApply(c, http.StatusOK, c.View("calendar.apply.title"))
}

func (m *Module) renderApply(c *kit.Ctx, status int, v *kit.View) error {
	var mine []Application
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&mine).Where("ap.user_id = ?", c.User().ID).Order("ap.created_at DESC").Limit(20).Scan(ctx)
	}); err != nil {
		return err
	}
	if v.Values["kind"] == "" {
		v.Values["kind"] = "doctor"
	}
	v.Data["Mine"] = mine
	return c.Render(status, "apply", v)
}

// apply stores an application with its documents (C2): a licence number that passes its
// check digit for a doctor, a register number for a facility with its name and city, and
// one to three documents, each a PDF or an image that parses. One pending application per
// account and kind: the database refuses a second.
func (m *Module) apply(c *kit.Ctx) error {
	v := c.View("calendar.apply.title")
	for _, f := range []string{"kind", "register_number", "name", "city"} {
		v.Values[f] = strings.TrimSpace(c.Form(f))
	}
	kind := v.Values["kind"]
	number := strings.ReplaceAll(v.Values["register_number"], " ", "")
	switch kind {
	case "doctor":
		if !validNPWZ(number) {
			v.Errors["register_number"] = "calendar.apply.err.npwz"
		}
	case "facility":
		if !validEntityRegister(number) {
			v.Errors["register_number"] = "calendar.apply.err.register"
		}
		if n := utf8.RuneCountInString(v.Values["name"]); n == 0 || n > 200 {
			v.Errors["name"] = "calendar.manage.err.required"
		}
		if n := utf8.RuneCountInString(v.Values["city"]); n == 0 || n > 100 {
			v.Errors["city"] = "calendar.manage.err.required"
		}
	default:
		return kit.ErrBadRequest
	}
	var docs [][]byte
	var kinds []upload.Kind
	if c.R.MultipartForm != nil {
		files := c.R.MultipartForm.File["documents"]
		if len(files) > maxDocuments {
			v.Errors["documents"] = "calendar.apply.err.too_many"
		}
		for _, fh := range files {
			if len(v.Errors["documents"]) > 0 {
				break
			}
			f, err := fh.Open()
			if err != nil {
				return kit.ErrBadRequest
			}
			data, err := io.ReadAll(io.LimitReader(f, maxDocumentBytes+1))
			f.Close()
			if err != nil {
				return err
			}
			k, err := upload.Check(data, upload.PDF, upload.PNG, upload.JPEG)
			if len(data) > maxDocumentBytes {
				v.Errors["documents"] = "calendar.apply.err.document_size"
			} else if err != nil {
				v.Errors["documents"] = "calendar.apply.err.document_type"
			}
			docs, kinds = append(docs, data), append(kinds, k)
		}
	}
	if len(docs) == 0 && v.Errors["documents"] == "" {
		v.Errors["documents"] = "calendar.apply.err.documents"
	}
	if len(v.Errors) > 0 {
		return m.renderApply(c, http.StatusUnprocessableEntity, v)
	}
	var ids []string
	for i, data := range docs {
		id, err := c.Host().PutBlob(c.Context(), sdk.Blob{Name: "document-" + strconv.Itoa(i+1) + kinds[i].Ext, ContentType: kinds[i].ContentType, Data: data})
		if err != nil {
			return err
		}
		ids = append(ids, id)
	}
	name := v.Values["name"]
	if kind == "doctor" {
		name = c.User().Name
	}
	a := &Application{ID: newID(), UserID: c.User().ID, Kind: kind, RegisterNumber: number, Name: name, City: v.Values["city"],
		Documents: strings.Join(ids, ","), Status: appPending, CreatedAt: m.now()}
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		a.TenantID = sc.TenantID
		_, err := sc.Insert(a).Exec(ctx)
		return err
	})
	if store.IsUniqueViolation(err) {
		for _, id := range ids {
			_ = c.Host().DeleteBlob(c.Context(), id)
		}
		v.Errors["kind"] = "calendar.apply.err.pending"
		return m.renderApply(c, http.StatusConflict, v)
	}
	if err != nil {
		return err
	}
	return c.Redirect("/calendar/apply", "applied")
}

// applications is the administrator's queue (C2): pending applications first, oldest
// first, then the latest decisions.
func (m *Module) applications(c *kit.Ctx) error {
	return m.renderApplications(c, http.StatusOK, c.View("calendar.applications.title"))
}

func (m *Module) renderApplications(c *kit.Ctx, status int, v *kit.View) error {
	var pending, decided []Application
	if err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&pending).Where("ap.status = ?", appPending).Order("ap.created_at").Limit(200).Scan(ctx); err != nil {
			return err
		}
		return sc.Select(&decided).Where("ap.status <> ?", appPending).Order("ap.decided_at DESC").Limit(50).Scan(ctx)
	}); err != nil {
		return err
	}
	v.Data["Pending"], v.Data["Decided"] = pending, decided
	return c.Render(status, "applications", v)
}

// application reads one application, or ErrNotFound.
func (m *Module) application(c *kit.Ctx) (*Application, error) {
	var a Application
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		err := sc.Select(&a).Where("ap.id = ?", c.Param("id")).Scan(ctx)
		if errors.Is(err, sqlNoRows) {
			return kit.ErrNotFound
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// applicationDocument serves one document of an application to the administrator, as a
// download of the type its bytes were checked to be.
func (m *Module) applicationDocument(c *kit.Ctx) error {
	a, err := m.application(c)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(c.Param("n"))
	ids := strings.Split(a.Documents, ",")
	if err != nil || n < 0 || n >= len(ids) || ids[n] == "" {
		return kit.ErrNotFound
	}
	b, err := c.Host().Blob(c.Context(), ids[n])
	if err != nil {
		return kit.ErrNotFound
	}
	k, err := upload.Check(b.Data, upload.PDF, upload.PNG, upload.JPEG)
	if err != nil {
		return kit.ErrNotFound
	}
	upload.Serve(c.W.Header().Set, k, "document-"+strconv.Itoa(n+1)+k.Ext, false)
	c.W.Header().Set("Cache-Control", "no-store")
	c.W.WriteHeader(http.StatusOK)
	_, err = c.W.Write(b.Data)
	return err
}

// decide ends a pending application (a guarded update: a second decision finds none) and,
// on approval, links the directory record to the account in the same transaction: the
// doctor's record of that licence number, or the facility's of that register number, not
// yet an account's; else a new record the account owns.
func (m *Module) decide(ctx context.Context, sc *store.Scope, a *Application, status, reason, by string) (bool, error) {
	now := m.now()
	res, err := sc.Update((*Application)(nil)).Set("status = ?", status).Set("reason = ?", reason).Set("decided_by = ?", by).
		Set("decided_at = ?", now).Where("ap.id = ?", a.ID).Where("ap.status = ?", appPending).Exec(ctx)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return false, err
	}
	if status != appApproved {
		return true, nil
	}
	switch a.Kind {
	case "doctor":
		// His account now keeps his calendar: he takes bookings online once he publishes
		// services and windows (C2, C4).
		res, err := sc.Update((*Doctor)(nil)).Set("user_id = ?", a.UserID).Set("bookable = TRUE").Set("updated_at = ?", now).
			Where("dr.licence_number = ? AND dr.user_id = ''", a.RegisterNumber).Exec(ctx)
		if err != nil {
			return false, err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return true, nil
		}
		first, last, _ := strings.Cut(a.Name, " ")
		d := &Doctor{TenantID: sc.TenantID, ID: newID(), FirstName: first, LastName: last, LicenceNumber: a.RegisterNumber,
			Bookable: true, OnlineCalendar: true, OwnerKind: ownerAccount, UserID: a.UserID, CreatedAt: now, UpdatedAt: now}
		d.SearchKey = m.searchKey(d, nil)
		_, err = sc.Insert(d).Exec(ctx)
		return err == nil, err
	default:
		res, err := sc.Update((*Facility)(nil)).Set("user_id = ?", a.UserID).Set("updated_at = ?", now).
			Where("fa.register_number = ? AND fa.user_id = ''", a.RegisterNumber).Exec(ctx)
		if err != nil {
			return false, err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return true, nil
		}
		f := &Facility{TenantID: sc.TenantID, ID: newID(), Name: a.Name, City: a.City, CityKey: fold(a.City), RegisterNumber: a.RegisterNumber,
			OwnerKind: ownerAccount, UserID: a.UserID, CreatedAt: now, UpdatedAt: now}
		_, err = sc.Insert(f).Exec(ctx)
		return err == nil, err
	}
}

// approve grants the role the application asks (C2) once the administrator checked the
// number and the documents: the directory record is the account's, the role is given, the
// applicant is told by e-mail, and the decision is audited.
func (m *Module) approve(c *kit.Ctx) error {
	a, err := m.application(c)
	if err != nil {
		return err
	}
	// The role is given inside the transaction that decides: if the core refuses it, the
	// application stays pending and the record unlinked.
	var done bool
	if err := c.In(func(ctx context.Context, sc *store.Scope) error {
		if done, err = m.decide(ctx, sc, a, appApproved, "", c.User().ID); err != nil || !done {
			return err
		}
		return c.Host().SetRole(c.Context(), a.UserID, a.Kind, true)
	}); err != nil {
		return err
	}
	if !done {
		return c.Redirect("/calendar/admin/applications", "already_decided")
	}
	if err := c.Host().Record(c.Context(), sdk.AuditRecord{Action: auditApplicationApproved, Subject: a.UserID, Resource: "application:" + a.ID,
		Detail: map[string]any{"register_number": a.RegisterNumber}}); err != nil {
		return err
	}
	if _, err := c.Host().Send(c.Context(), sdk.Message{UserID: a.UserID, Template: tmplApplicationApproved, Link: "/calendar/manage",
		Data: map[string]any{"Number": a.RegisterNumber}}); err != nil {
		return err
	}
	return c.Redirect("/calendar/admin/applications", "approved")
}

// refuse ends the application with the administrator's reason (C2): no role; the applicant
// reads the reason in the e-mail and on his page; the decision is audited.
func (m *Module) refuse(c *kit.Ctx) error {
	a, err := m.application(c)
	if err != nil {
		return err
	}
	reason := strings.TrimSpace(c.Form("reason"))
	if reason == "" || utf8.RuneCountInString(reason) > maxReason {
		v := c.View("calendar.applications.title")
		v.Values["reason"], v.Values["refusing"] = reason, a.ID
		v.Errors["reason"] = "calendar.applications.err.reason"
		return m.renderApplications(c, http.StatusUnprocessableEntity, v)
	}
	var done bool
	if err := c.In(func(ctx context.Context, sc *store.Scope) error {
		done, err = m.decide(ctx, sc, a, appRefused, reason, c.User().ID)
		return err
	}); err != nil {
		return err
	}
	if !done {
		return c.Redirect("/calendar/admin/applications", "already_decided")
	}
	if err := c.Host().Record(c.Context(), sdk.AuditRecord{Action: auditApplicationRefused, Subject: a.UserID, Resource: "application:" + a.ID,
		Detail: map[string]any{"register_number": a.RegisterNumber}}); err != nil {
		return err
	}
	if _, err := c.Host().Send(c.Context(), sdk.Message{UserID: a.UserID, Template: tmplApplicationRefused, Link: "/calendar/apply",
		Data: map[string]any{"Number": a.RegisterNumber, "Reason": reason}}); err != nil {
		return err
	}
	return c.Redirect("/calendar/admin/applications", "refused")
}

// forgetApplications deletes a deleted account's applications and their documents (P11):
// the audit trail keeps the decisions.
func (m *Module) forgetApplications(ctx context.Context, t sdk.Tenant, userID string) error {
	var apps []Application
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		if err := sc.Select(&apps).Where("ap.user_id = ?", userID).Scan(ctx); err != nil {
			return err
		}
		_, err := sc.Delete((*Application)(nil)).Where("ap.user_id = ?", userID).Exec(ctx)
		return err
	})
	if err != nil {
		return err
	}
	for _, a := range apps {
		for _, id := range strings.Split(a.Documents, ",") {
			if id != "" {
				if err := sdk.HostFrom(ctx).DeleteBlob(ctx, id); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

package server

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/gofiber/fiber/v2"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/audit"
	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/complaints"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/mail"
	"carenet.dev/platform/core/modules"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/plugins/sdk/host"
)

const ActDataExported = "account.data_exported"

func (s *Server) bindPrivacy() {
	s.get("/account/export", authz.PermAccount, s.exportData)
}

// exportData gives a person all his data as a ZIP of JSON files (P11): his account, sessions,
// terms acceptances and consents, who accessed his data, his complaints, the messages sent to
// him, what each module of the tenant holds of him, and what an erasure keeps and why.
func (s *Server) exportData(c *fiber.Ctx) error {
	st := St(c)
	ctx := c.UserContext()
	u := st.User
	files := map[string]any{}
	files["account.json"] = map[string]any{"id": u.ID, "email": u.Email, "name": u.Name, "birth_date": u.BirthDate,
		"locale": u.Locale, "status": u.Status, "profile": u.Profile, "created_at": u.CreatedAt,
		"verified_at": u.VerifiedAt.Time, "last_login_at": u.LastLoginAt.Time, "roles": st.Roles, "closing_at": u.ClosingAt.Time}
	sessions, err := s.Accounts.Sessions(ctx, st.Tenant.ID, u.ID)
	if err != nil {
		return err
	}
	type sess struct {
		Created, LastSeen, Expires time.Time
		IP, UserAgent              string
	}
	var ss []sess
	for _, x := range sessions {
		ss = append(ss, sess{x.CreatedAt, x.LastSeenAt, x.ExpiresAt, x.IP, x.UserAgent})
	}
	files["sessions.json"] = ss
	if files["terms_acceptances.json"], err = s.Terms.Acceptances(ctx, st.Tenant.ID, u.ID); err != nil {
		return err
	}
	if files["consents.json"], err = s.Terms.ConsentHistory(ctx, st.Tenant.ID, u.ID); err != nil {
		return err
	}
	if files["dependants.json"], err = s.exportDependants(c); err != nil {
		return err
	}
	var acc []audit.Entry
	if acc, err = s.Trail.Search(ctx, st.Tenant.ID, audit.Filter{Subject: u.ID}); err != nil {
		return err
	}
	files["access_log.json"] = acc
	if files["complaints.json"], err = s.Complaints.ByUser(ctx, st.Tenant.ID, u.ID); err != nil {
		return err
	}
	if files["messages.json"], err = s.Mail.ListTo(ctx, st.Tenant.ID, u.Email); err != nil {
		return err
	}
	// What an erasure of this account would keep, and why (P9, P11).
	files["kept_after_erasure.json"] = []map[string]any{
		{"what": st.Loc.T("privacy.kept.audit_what"), "why": st.Loc.T("privacy.kept.audit_why"), "records": len(acc)},
		{"what": st.Loc.T("privacy.kept.deletion_what"), "why": st.Loc.T("privacy.kept.deletion_why")},
	}
	raw := map[string][]byte{}
	for _, id := range st.Tenant.EnabledModules() {
		data, err := s.Modules.Export(ctx, st.Tenant, id, modules.Caller{User: u, Roles: st.Roles, RequestID: st.RequestID, IP: c.IP(),
			Lang: st.Lang, Portal: st.Portal, Base: st.Base})
		if err != nil {
			// An incomplete export would mislead: the person tries again when it runs.
			s.Log.Error("module export", "request_id", st.RequestID, "tenant", st.Tenant.Slug, "module", id, "err", err)
			return s.moduleDown(c, id)
		}
		// A module's files (a report's PDF) go beside its JSON, under its folder (issue 12.16).
		js, moduleFiles, err := host.SplitExport(data)
		if err != nil {
			s.Log.Error("module export files", "request_id", st.RequestID, "tenant", st.Tenant.Slug, "module", id, "err", err)
			return s.moduleDown(c, id)
		}
		raw["modules/"+id+".json"] = js
		for _, f := range moduleFiles {
			raw["modules/"+id+"/"+f.Name] = f.Data
		}
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	// Each entry carries the export's date (zip.Create would leave it at 1980).
	now := time.Now()
	create := func(name string) (io.Writer, error) {
		return zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: now})
	}
	for name, v := range files {
		w, err := create(name)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return err
		}
	}
	for name, data := range raw {
		w, err := create(name)
		if err != nil {
			return err
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := s.record(c, "", ActDataExported, u.ID, "user:"+u.ID, nil); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/zip")
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s-data-%s.zip"`, st.Tenant.Slug, time.Now().Format("20060102")))
	return c.Send(buf.Bytes())
}

// erasePerson removes, in the transaction that deletes an account, what the core's other
// tables hold of the person (P11): every message to his e-mail address or mobile number
// (recipient, subject, bodies, the development mailbox's copy), his complaints with their
// files and answers, and the login counter keyed on his address. The user row then goes with
// its sessions, tokens, acceptances and consents (cascade) and his role rules.
//
// Kept on purpose: the audit trail (P9 requires a tamper-evident record of who accessed
// health data and of every admin action; it names the account by its internal id only, which
// nothing links to the person once his row is gone, and rewriting it would break its hash
// chain), the deletion record (date, who asked, reason; no identity), and the core events
// that carry the account id to the modules so that each erases what it holds.
func (s *Server) erasePerson(ctx context.Context, sc *db.Scope, t *tenancy.Tenant, u *accounts.User) error {
	if _, err := mail.EraseTo(ctx, sc, u.Email, u.Profile["mobile"]); err != nil {
		return fmt.Errorf("erase messages: %w", err)
	}
	if _, err := complaints.Erase(ctx, sc, u.ID, u.Email); err != nil {
		return fmt.Errorf("erase complaints: %w", err)
	}
	if err := accounts.EraseThrottles(ctx, sc, u.Email); err != nil {
		return fmt.Errorf("erase sign-in throttle: %w", err)
	}
	return nil
}

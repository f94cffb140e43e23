package server

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"

	"carenet.dev/platform/core/audit"
	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/modules"
)

const ActDataExported = "account.data_exported"

func (s *Server) bindPrivacy() {
	s.get("/account/export", authz.PermAccount, s.exportData)
}

// exportData gives a person all his data as a ZIP of JSON files (P11): his account, sessions,
// terms acceptances and consents, who accessed his data, his complaints, the messages sent to
// him, and what each module of the tenant holds of him.
func (s *Server) exportData(c *fiber.Ctx) error {
	st := St(c)
	ctx := c.UserContext()
	u := st.User
	files := map[string]any{}
	files["account.json"] = map[string]any{"id": u.ID, "email": u.Email, "name": u.Name, "birth_date": u.BirthDate,
		"locale": u.Locale, "status": u.Status, "profile": u.Profile, "created_at": u.CreatedAt,
		"verified_at": u.VerifiedAt.Time, "last_login_at": u.LastLoginAt.Time, "roles": st.Roles}
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
	raw := map[string][]byte{}
	for _, id := range st.Tenant.EnabledModules() {
		data, err := s.Modules.Export(ctx, st.Tenant, id, modules.Caller{User: u, Roles: st.Roles, RequestID: st.RequestID, IP: c.IP(),
			Lang: st.Lang, Portal: st.Portal, Base: st.Base})
		if err != nil {
			// An incomplete export would mislead: the person tries again when it runs.
			s.Log.Error("module export", "module", id, "err", err)
			return s.moduleDown(c)
		}
		raw["modules/"+id+".json"] = data
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, v := range files {
		w, err := zw.Create(name)
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
		w, err := zw.Create(name)
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

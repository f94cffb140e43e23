package server

import (
	"context"
	"errors"
	"mime"
	"sort"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/form"
	"carenet.dev/platform/core/mail"
	"carenet.dev/platform/core/tenancy"
)

// bindAdmin mounts the tenant admin's pages: users, blocks, roles and grants, mailbox.
func (s *Server) bindAdmin() {
	s.get("/admin", authz.PermAccount, s.adminHome)
	s.get("/platform", authz.PermAccount, s.adminHome)
	s.get("/admin/users", authz.PermAdminUsers, s.adminUsers)
	s.get("/admin/users/:id", authz.PermAdminUsers, s.adminUser)
	s.post("/admin/users/:id/block", authz.PermAdminUsers, s.adminBlock)
	s.post("/admin/users/:id/unblock", authz.PermAdminUsers, s.adminUnblock)
	s.post("/admin/users/:id/roles", authz.PermAdminRoles, s.adminAssignRole)
	s.post("/admin/users/:id/roles/remove", authz.PermAdminRoles, s.adminRemoveRole)
	s.get("/admin/roles", authz.PermAdminRoles, s.adminRoles)
	s.post("/admin/roles", authz.PermAdminRoles, s.adminSetGrant)
	s.get("/admin/mailbox", authz.PermAdminMailbox, s.adminMailbox)
	s.get("/admin/mailbox/:id", authz.PermAdminMailbox, s.adminMail)
	s.get("/admin/mailbox/:id/html", authz.PermAdminMailbox, s.adminMailHTML)
	s.get("/admin/mailbox/:id/raw", authz.PermAdminMailbox, s.adminMailRaw)
	s.get("/admin/mailbox/:id/files/:seq", authz.PermAdminMailbox, s.adminMailFile)
}

// adminHomes are the administration's pages in the order of their menu: /admin (and
// /platform) lead to the first one the person may open.
var adminHomes = []struct{ perm, path string }{
	{authz.PermPlatformTenants, "/platform/tenants"},
	{authz.PermPlatformUsers, "/platform/users"},
	{authz.PermPlatformModules, "/platform/modules"},
	{authz.PermPlatformJobs, "/platform/jobs"},
	{authz.PermAdminUsers, "/admin/users"},
	{authz.PermAdminRoles, "/admin/roles"},
	{authz.PermAdminMailbox, "/admin/mailbox"},
	{authz.PermAdminJobs, "/admin/jobs"},
	{authz.PermAdminAudit, "/admin/audit"},
	{authz.PermAdminTerms, "/admin/terms"},
	{authz.PermAdminComplaints, "/admin/complaints"},
	{authz.PermAdminAPIKeys, "/admin/api-keys"},
	{authz.PermAdminSettings, "/admin/settings"},
}

// adminHome sends /admin and /platform to the administration's first page the person may
// open (issue 12.14: both were a 404); someone who may open none gets the 404 he had.
func (s *Server) adminHome(c *fiber.Ctx) error {
	for _, h := range adminHomes {
		if s.can(c, h.perm) {
			return c.Redirect(St(c).URL(h.path), fiber.StatusSeeOther)
		}
	}
	return fiber.ErrNotFound
}

func (s *Server) roleMembers(ctx context.Context, tenantID string) (map[string][]string, error) {
	var m map[string][]string
	err := s.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		var err error
		m, err = s.Authz.RoleMembers(ctx, sc)
		return err
	})
	return m, err
}

func (s *Server) adminUsers(c *fiber.Ctx) error {
	st := St(c)
	q := c.Query("q")
	if len(q) > 200 {
		q = q[:200]
	}
	users, err := s.Accounts.List(c.UserContext(), st.Tenant.ID, q, 500)
	if err != nil {
		return err
	}
	roles, err := s.roleMembers(c.UserContext(), st.Tenant.ID)
	if err != nil {
		return err
	}
	return s.render(c, fiber.StatusOK, "admin_users", "admin.users.title",
		map[string]any{"Users": users, "Query": q, "Roles": roles}, nil)
}

// subject loads the user named in the path, in the admin's own tenant only.
func (s *Server) subject(c *fiber.Ctx) (*accounts.User, error) {
	id, err := pathID(c)
	if err != nil {
		return nil, err
	}
	u, err := s.Accounts.ByID(c.UserContext(), St(c).Tenant.ID, id)
	if errors.Is(err, accounts.ErrNotFound) {
		return nil, fiber.ErrNotFound
	}
	return u, err
}

// mayAct applies the one rule of whose account a person may act on (authz.MayActOn): the
// signed-in person on u, in the request's tenant.
func (s *Server) mayAct(c *fiber.Ctx, u *accounts.User) (bool, error) {
	st := St(c)
	if st.User == nil {
		return false, nil
	}
	var ok bool
	err := s.DB.ReadTenant(c.UserContext(), st.Tenant.ID, func(ctx context.Context, sc *db.Scope) error {
		var err error
		ok, err = s.Authz.MayActOn(ctx, sc, st.User.ID, u.ID, "")
		return err
	})
	return ok, err
}

// errOutOfReach refuses an action on an account that holds a right the actor does not hold.
var errOutOfReach = errors.New("the account holds a right the actor does not hold")

// actOn loads the user named in the path for an action on his account (block, unblock,
// roles, secret-answer check…), or errOutOfReach when the signed-in person may not act on
// that account (P3). Handlers pass its error through outOfReach.
func (s *Server) actOn(c *fiber.Ctx) (*accounts.User, error) {
	u, err := s.subject(c)
	if err != nil {
		return nil, err
	}
	ok, err := s.mayAct(c, u)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errOutOfReach
	}
	return u, nil
}

// outOfReach answers errOutOfReach with 403 and a localized page (nothing was changed);
// any other error goes on to the error handler.
func (s *Server) outOfReach(c *fiber.Ctx, err error) error {
	if !errors.Is(err, errOutOfReach) {
		return err
	}
	return s.message(c, fiber.StatusForbidden, "admin.users.refused_title", messageData{
		Lines: []string{"admin.users.refused_text"}, LinkKey: "admin.users.back", LinkHref: "/admin/users"})
}

func (s *Server) renderAdminUser(c *fiber.Ctx, status int, u *accounts.User, f *Form) error {
	return s.renderAdminUserCheck(c, status, u, f, nil)
}

// renderAdminUserCheck is the user page with the outcome of a secret-answer check, if any.
func (s *Server) renderAdminUserCheck(c *fiber.Ctx, status int, u *accounts.User, f *Form, check *secretCheck) error {
	st := St(c)
	var userRoles, assignable []string
	err := s.DB.InTenant(c.UserContext(), st.Tenant.ID, func(ctx context.Context, sc *db.Scope) error {
		var err error
		if userRoles, err = s.Authz.UserRoles(ctx, sc, u.ID); err != nil {
			return err
		}
		all, err := s.Authz.TenantRoles(ctx, sc)
		for _, r := range all {
			if r != authz.RolePlatformAdmin && !contains(userRoles, r) {
				assignable = append(assignable, r)
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	// The page offers no action the person may not take on this account.
	canAct, err := s.mayAct(c, u)
	if err != nil {
		return err
	}
	id := s.identity(st, u, st.URL("/admin/users/"+u.ID+"/secret"), check)
	id.CanAct = canAct
	data := map[string]any{"Subject": u, "UserRoles": userRoles, "Assignable": assignable, "CanAct": canAct, "Identity": id}
	if err := s.credentialData(c, u, data); err != nil {
		return err
	}
	return s.render(c, status, "admin_user", "admin.users.one_title", data, f)
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func (s *Server) adminUser(c *fiber.Ctx) error {
	u, err := s.subject(c)
	if err != nil {
		return err
	}
	return s.renderAdminUser(c, fiber.StatusOK, u, nil)
}

func (s *Server) adminBlock(c *fiber.Ctx) error {
	st := St(c)
	u, err := s.actOn(c)
	if err != nil {
		return s.outOfReach(c, err)
	}
	if u.ID == st.User.ID {
		return s.renderAdminUser(c, fiber.StatusUnprocessableEntity, u, &Form{Values: values(c, "reason"),
			Errors: form.Errors{"reason": "admin.users.cannot_block_self"}})
	}
	err = s.Accounts.Block(c.UserContext(), st.Tenant, u.ID, c.FormValue("reason"))
	var ferr form.Errors
	switch {
	case errors.As(err, &ferr):
		return s.renderAdminUser(c, fiber.StatusUnprocessableEntity, u, &Form{Values: values(c, "reason"), Errors: ferr})
	case errors.Is(err, accounts.ErrNotFound):
		return s.renderAdminUser(c, fiber.StatusConflict, u, &Form{Errors: form.Errors{"reason": "admin.users.not_blockable"}})
	case err != nil:
		return err
	}
	if err := s.record(c, "", ActUserBlocked, u.ID, "user:"+u.ID, map[string]any{"reason": strings.TrimSpace(c.FormValue("reason"))}); err != nil {
		return err
	}
	s.Modules.Deliver(c.UserContext(), st.Tenant)
	// The notice carries the reason and the link to appeal (P2, R6).
	if err := s.sendMail(c.UserContext(), st.Tenant, u.Email, u.Name, st.Tenant.Lang(u.Locale, ""), "blocked", s.userURL(c, u, appealPath),
		"Reason", strings.TrimSpace(c.FormValue("reason"))); err != nil {
		return err
	}
	s.flash(c, "admin.users.blocked")
	return c.Redirect(st.URL("/admin/users/"+u.ID), fiber.StatusSeeOther)
}

func (s *Server) adminUnblock(c *fiber.Ctx) error {
	st := St(c)
	u, err := s.actOn(c)
	if err != nil {
		return s.outOfReach(c, err)
	}
	if err := s.Accounts.Unblock(c.UserContext(), st.Tenant, u.ID); errors.Is(err, accounts.ErrNotFound) {
		s.flash(c, "admin.users.unblocked")
		return c.Redirect(st.URL("/admin/users/"+u.ID), fiber.StatusSeeOther)
	} else if err != nil {
		return err
	}
	if err := s.record(c, "", ActUserUnblocked, u.ID, "user:"+u.ID, nil); err != nil {
		return err
	}
	s.flash(c, "admin.users.unblocked")
	return c.Redirect(st.URL("/admin/users/"+u.ID), fiber.StatusSeeOther)
}

func (s *Server) adminAssignRole(c *fiber.Ctx) error {
	return s.changeRole(c, ActRoleAssigned, func(ctx context.Context, sc *db.Scope, userID, role string) error {
		return s.Authz.AssignRole(ctx, sc, userID, role)
	})
}

func (s *Server) adminRemoveRole(c *fiber.Ctx) error {
	return s.changeRole(c, ActRoleRemoved, func(ctx context.Context, sc *db.Scope, userID, role string) error {
		if userID == St(c).User.ID && role == authz.RoleTenantAdmin {
			return errDemoteSelf
		}
		return s.Authz.RevokeRole(ctx, sc, userID, role)
	})
}

var errDemoteSelf = errors.New("an admin cannot withdraw his own admin role")

// changeRole applies a role change to the user named in the path, in the admin's tenant,
// and makes every instance reload the tenant's rules.
func (s *Server) changeRole(c *fiber.Ctx, action string, change func(ctx context.Context, sc *db.Scope, userID, role string) error) error {
	st := St(c)
	u, err := s.actOn(c)
	if err != nil {
		return s.outOfReach(c, err)
	}
	role := c.FormValue("role")
	err = s.DB.InTenant(c.UserContext(), st.Tenant.ID, func(ctx context.Context, sc *db.Scope) error {
		return change(ctx, sc, u.ID, role)
	})
	switch {
	case errors.Is(err, errDemoteSelf):
		return s.renderAdminUser(c, fiber.StatusUnprocessableEntity, u, &Form{Errors: form.Errors{"role": "admin.roles.cannot_demote_self"}})
	case errors.Is(err, authz.ErrPlatformRight) || errors.Is(err, authz.ErrUnknownRole):
		return s.renderAdminUser(c, fiber.StatusForbidden, u, &Form{Errors: form.Errors{"role": "admin.roles.refused"}})
	case err != nil:
		return err
	}
	if err := s.Tenants.BumpPolicy(c.UserContext(), st.Tenant.ID); err != nil {
		return err
	}
	if err := s.record(c, "", action, u.ID, "role:"+role, map[string]any{"role": role}); err != nil {
		return err
	}
	s.flash(c, "admin.roles.saved")
	return c.Redirect(st.URL("/admin/users/"+u.ID), fiber.StatusSeeOther)
}

// Permissions lists every permission a tenant admin may grant: the core's and those of the
// running modules. Platform permissions are never listed.
func (s *Server) Permissions() []string {
	seen := map[string]bool{}
	for _, r := range s.routes {
		if r.Perm != authz.PermPublic && r.Perm != PermModuleRoute && !strings.HasPrefix(r.Perm, "platform.") {
			seen[r.Perm] = true
		}
	}
	for _, p := range s.Modules.Permissions() {
		seen[p] = true
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// tenantPermissions are the permissions that mean something in this tenant: the core's and
// those of the modules it switched on.
func (s *Server) tenantPermissions(t *tenancy.Tenant) []string {
	var out []string
	for _, p := range s.Permissions() {
		module, _, _ := strings.Cut(p, ".")
		if s.Tenants.Known.Has(module) && !contains(t.EnabledModules(), module) {
			continue
		}
		out = append(out, p)
	}
	return out
}

func (s *Server) adminRoles(c *fiber.Ctx) error { return s.renderRoles(c, fiber.StatusOK, nil) }

func (s *Server) renderRoles(c *fiber.Ctx, status int, f *Form) error {
	st := St(c)
	var roles []string
	var grants map[string]map[string]bool
	err := s.DB.InTenant(c.UserContext(), st.Tenant.ID, func(ctx context.Context, sc *db.Scope) error {
		var err error
		if roles, err = s.Authz.TenantRoles(ctx, sc); err != nil {
			return err
		}
		grants, err = s.Authz.Grants(ctx, sc)
		return err
	})
	if err != nil {
		return err
	}
	return s.render(c, status, "admin_roles", "admin.roles.title",
		map[string]any{"Roles": roles, "Perms": s.tenantPermissions(st.Tenant), "Grants": grants}, f)
}

func (s *Server) adminSetGrant(c *fiber.Ctx) error {
	st := St(c)
	role, perm, on := c.FormValue("role"), c.FormValue("perm"), c.FormValue("on") == "1"
	if !contains(s.tenantPermissions(st.Tenant), perm) {
		return s.renderRoles(c, fiber.StatusUnprocessableEntity, &Form{Errors: form.Errors{"perm": "admin.roles.refused"}})
	}
	err := s.DB.InTenant(c.UserContext(), st.Tenant.ID, func(ctx context.Context, sc *db.Scope) error {
		return s.Authz.SetGrant(ctx, sc, role, perm, on)
	})
	if errors.Is(err, authz.ErrPlatformRight) || errors.Is(err, authz.ErrUnknownRole) || errors.Is(err, authz.ErrLockout) {
		return s.renderRoles(c, fiber.StatusForbidden, &Form{Errors: form.Errors{"perm": "admin.roles.refused"}})
	}
	if err != nil {
		return err
	}
	if err := s.Tenants.BumpPolicy(c.UserContext(), st.Tenant.ID); err != nil {
		return err
	}
	if err := s.record(c, "", ActGrantChanged, "", "permission:"+perm, map[string]any{"role": role, "permission": perm, "granted": on}); err != nil {
		return err
	}
	s.flash(c, "admin.roles.saved")
	return c.Redirect(st.URL("/admin/roles"), fiber.StatusSeeOther)
}

func (s *Server) adminMailbox(c *fiber.Ctx) error {
	list, err := s.Mail.List(c.UserContext(), St(c).Tenant.ID, 200)
	if err != nil {
		return err
	}
	return s.render(c, fiber.StatusOK, "admin_mailbox", "admin.mailbox.title", map[string]any{"Messages": list}, nil)
}

// adminMailHTML serves a message's HTML as the person's mail reader shows it, in a sandbox:
// no script runs and the page can only be framed by the mailbox page itself.
func (s *Server) adminMailHTML(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	m, err := s.Mail.Get(c.UserContext(), St(c).Tenant.ID, id)
	if err != nil || m.HTMLBody == "" {
		return fiber.ErrNotFound
	}
	c.Set("Content-Security-Policy", "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'")
	c.Set("X-Frame-Options", "SAMEORIGIN")
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.SendString(m.HTMLBody)
}

// adminMailRaw downloads a message as the development mailbox keeps it, in the database (the
// same from every instance): the .eml a mail reader opens, or an SMS's text.
func (s *Server) adminMailRaw(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	m, err := s.Mail.Raw(c.UserContext(), St(c).Tenant.ID, id)
	if err != nil || len(m.Raw) == 0 {
		return fiber.ErrNotFound
	}
	typ, name := "message/rfc822", m.ID+".eml"
	if m.Channel == "sms" {
		typ, name = "text/plain; charset=utf-8", m.ID+".sms.txt"
	}
	c.Set(fiber.HeaderContentType, typ)
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	return c.Send(m.Raw)
}

// adminMailFile downloads one file a message carries (an ICS invitation), as a download that
// never renders in the page.
func (s *Server) adminMailFile(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	seq, err := strconv.Atoi(c.Params("seq"))
	if err != nil || seq < 1 {
		return fiber.ErrNotFound
	}
	a, err := s.Mail.Attachment(c.UserContext(), St(c).Tenant.ID, id, seq)
	if err != nil {
		return fiber.ErrNotFound
	}
	c.Set(fiber.HeaderContentType, a.ContentType)
	c.Set(fiber.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": a.Name}))
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	return c.Send(a.Data)
}

func (s *Server) adminMail(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	m, err := s.Mail.Get(c.UserContext(), St(c).Tenant.ID, id)
	if err != nil {
		return fiber.ErrNotFound
	}
	return s.render(c, fiber.StatusOK, "admin_mail", "admin.mailbox.one_title", map[string]any{"Message": m,
		"Redacted": m.TextBody == mail.Redacted}, nil)
}

package server

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/text/collate"
	"golang.org/x/text/language"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/audit"
	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/plugins/kit/view"
)

// Core audit actions (P9). Modules report theirs through the HostAPI.
const (
	ActUserBlocked        = "admin.user_blocked"
	ActUserUnblocked      = "admin.user_unblocked"
	ActRoleAssigned       = audit.ActRoleAssigned
	ActRoleRemoved        = audit.ActRoleRemoved
	ActGrantChanged       = "admin.grant_changed"
	ActSettingsChanged    = "admin.settings_changed"
	ActModuleRules        = "admin.module_rules"
	ActJobRetried         = "admin.job_retried"
	ActTenantChanged      = "platform.tenant_changed"
	ActHostnamesChanged   = "platform.hostnames_changed"
	ActModulesChanged     = "platform.modules_changed"
	ActModuleRestarted    = "platform.module_restarted"
	ActAccountDeleted     = "account.deleted"
	ActTermsPublished     = "admin.terms_published"
	ActMaintenancePlanned = "platform.maintenance_planned"
	ActComplaintExtended  = "admin.complaint_extended"
	ActComplaintAnswered  = "admin.complaint_answered"
	ActComplaintQuestion  = "admin.complaint_question"
	ActComplaintExplained = "complaint.explained"
	ActTemplateChanged    = "admin.template_changed"
	ActSecretChanged      = "account.secret_changed"
	ActSecretChecked      = audit.ActSecretChecked
	ActSecretCheckFailed  = audit.ActSecretCheckFailed
	ActInvited            = audit.ActInvited
	ActAPIKeyCreated      = "admin.api_key_created"
	ActAPIKeyRevoked      = "admin.api_key_revoked"
)

// CoreAuditActions lists the core's audit actions (each has a message "audit.action.<id>").
var CoreAuditActions = []string{ActUserBlocked, ActUserUnblocked, ActRoleAssigned, ActRoleRemoved, ActGrantChanged,
	ActSettingsChanged, ActModuleRules, ActJobRetried, ActTenantChanged, ActHostnamesChanged, ActModulesChanged,
	ActModuleRestarted, ActAccountDeleted, ActTermsPublished, ActMaintenancePlanned, ActComplaintExtended, ActComplaintAnswered, ActComplaintQuestion, ActComplaintExplained, ActDataExported, ActTemplateChanged,
	ActSecretChanged, ActSecretChecked, ActSecretCheckFailed, ActInvited, ActAPIKeyCreated, ActAPIKeyRevoked,
	ActTOTPEnabled, ActTOTPRemoved, ActPasskeyAdded, ActPasskeyRemoved, ActRecoveryRenewed, ActRecoveryUsed, ActSecondFactorReset,
	ActModuleRegistered, ActClosureAppealGranted, ActClosureAppealRefused}

// record appends an action of the signed-in user to the audit trail of tenantID (the
// request's tenant when empty).
func (s *Server) record(c *fiber.Ctx, tenantID, action, subject, resource string, detail map[string]any) error {
	st := St(c)
	if tenantID == "" {
		tenantID = st.Tenant.ID
	}
	actor := ""
	if st.User != nil {
		actor = st.User.ID
		if tenantID != st.Tenant.ID {
			// A platform admin acting on a tenant: his account lives on the console.
			actor = "platform:" + st.User.ID
		}
	}
	return s.Trail.Append(c.UserContext(), tenantID, audit.Entry{Actor: actor, Action: action, Subject: subject, Resource: resource,
		RequestID: st.RequestID, IP: c.IP(), Detail: detail})
}

func (s *Server) bindAudit() {
	s.get("/admin/audit", authz.PermAdminAudit, s.adminAudit)
	s.get("/admin/audit.csv", authz.PermAdminAudit, s.adminAuditCSV)
	s.get("/admin/audit/checkpoints.json", authz.PermAdminAudit, s.adminAuditCheckpoints)
	s.get("/account/access", authz.PermAccount, s.accountAccess)
}

// auditFilter reads the search form; a bad value is a form error, not a 500.
func (s *Server) auditFilter(c *fiber.Ctx) (audit.Filter, *Form, error) {
	st := St(c)
	f := &Form{Values: values(c, "action", "subject", "actor", "from", "to")}
	for k := range f.Values {
		f.Values[k] = c.Query(k)
	}
	f.Errors = map[string]string{}
	// An action chosen from the list is that action; a module's prefix ("results.") all of
	// its actions.
	flt := audit.Filter{Action: strings.TrimSpace(f.Values["action"]), Limit: 500}
	flt.ExactAction = !strings.HasSuffix(flt.Action, ".")
	person := func(field string) string {
		v := strings.TrimSpace(f.Values[field])
		if v == "" {
			return ""
		}
		u, err := s.Accounts.ByEmail(c.UserContext(), st.Tenant.ID, v)
		if err != nil {
			f.Errors.Add(field, "admin.audit.no_such_user")
			return "-"
		}
		return u.ID
	}
	flt.Subject, flt.Actor = person("subject"), person("actor")
	day := func(field string) time.Time {
		v := f.Values[field]
		if v == "" {
			return time.Time{}
		}
		d, err := time.ParseInLocation("2006-01-02", v, st.Tenant.Location())
		if err != nil {
			f.Errors.Add(field, "form.date.invalid")
		}
		return d
	}
	flt.From, flt.To = day("from"), day("to")
	if !flt.To.IsZero() {
		flt.To = flt.To.AddDate(0, 0, 1)
	}
	return flt, f, nil
}

type auditRow struct {
	audit.Entry
	// Who acted, whose data it was, what was done and to what, in the reader's words:
	// never an id (issue 12.5).
	ActorName, SubjectName, ActionLabel, What string
}

// auditRows names the people of the records (name and roles; "you" on the person's own
// page, mine), labels their actions and names what each was about in words.
func (s *Server) auditRows(c *fiber.Ctx, entries []audit.Entry, mine bool) []auditRow {
	st := St(c)
	ctx := c.UserContext()
	// The page's words for roles, permissions and modules.
	p := &Page{State: st, h: view.New(st.Loc, st.Tenant.Location(), st.Base, ""),
		word: func(id, what string) string { return s.moduleWord(st, id, what) }}
	members, err := s.roleMembers(ctx, st.Tenant.ID)
	if err != nil {
		// Names without roles rather than no page: the cause is logged.
		s.Log.Error("audit roles", "request_id", st.RequestID, "err", err)
	}
	names := map[string]string{}
	name := func(id string) string {
		if id == "" {
			return ""
		}
		if n, ok := names[id]; ok {
			return n
		}
		n := st.Loc.T("admin.audit.former_user")
		switch {
		case mine && id == st.User.ID:
			n = st.Loc.T("audit.actor.you")
		case strings.HasPrefix(id, "platform:"):
			n = st.Loc.T("role.platform_admin")
		case strings.HasPrefix(id, actorAPIKey):
			// A machine's call (R3a): the key's name, even once revoked.
			key := strings.TrimPrefix(id, actorAPIKey)
			if k, err := s.APIKeys.Get(ctx, st.Tenant.ID, key); err == nil {
				key = k.Name
			} else {
				key = "?"
			}
			if mine {
				n = st.Loc.T("audit.actor.machine", "Name", key)
			} else {
				n = st.Loc.T("admin.audit.api_key", "Name", key)
			}
		default:
			u, err := s.Accounts.ByID(ctx, st.Tenant.ID, id)
			if err != nil {
				if !errors.Is(err, accounts.ErrNotFound) {
					s.Log.Error("audit actor", "request_id", st.RequestID, "err", err)
				}
				break
			}
			n = u.Name
			if !mine {
				n += " <" + u.Email + ">"
			}
			var roles []string
			for _, r := range members[id] {
				if r != authz.RoleUser {
					roles = append(roles, p.RoleName(r))
				}
			}
			if len(roles) > 0 {
				n += " (" + strings.Join(roles, ", ") + ")"
			}
		}
		names[id] = n
		return n
	}
	out := make([]auditRow, len(entries))
	for i, e := range entries {
		actor := name(e.Actor)
		if e.Actor == "" {
			// A job or an event of the platform: the operator's own processing.
			actor = st.Loc.T("audit.actor.system", "Name", st.Tenant.Settings.Name)
		}
		out[i] = auditRow{Entry: e, ActorName: actor, SubjectName: name(e.Subject), ActionLabel: s.auditActionLabel(st, e.Action),
			What: s.auditWhat(p, e)}
	}
	return out
}

// auditActionLabel is an action's name in the reader's language: the core's or the module's
// "audit.action.<id>", else the words an external module's manifest gives none of: its name.
func (s *Server) auditActionLabel(st *State, action string) string {
	if st.Loc.Has("audit.action." + action) {
		return st.Loc.T("audit.action." + action)
	}
	module, _, _ := strings.Cut(action, ".")
	return st.Loc.T("audit.action.other", "Module", s.moduleWord(st, module, "name"))
}

// auditWhat names what a record was about in words: the sentence its action declares
// ("audit.what.<action>", filled with the detail recorded when it happened: the report's
// date, the analyte's name), else what its resource is when the platform has words for it
// (a role, a permission, a complaint's reference, a module); "" rather than an identifier.
func (s *Server) auditWhat(p *Page, e audit.Entry) string {
	if w := p.Loc.AuditWhat(e.Action, e.Detail); w != "" {
		return w
	}
	kind, v, _ := strings.Cut(e.Resource, ":")
	switch kind {
	case "role":
		return p.T("audit.what_role", "Role", p.RoleName(v))
	case "permission":
		return p.PermName(v)
	case "complaint":
		return p.T("audit.what_complaint", "Reference", v)
	case "module":
		return p.ModuleName(v)
	}
	return ""
}

// auditActions are the actions the search form offers, by their names: the core's and
// those of the tenant's modules.
func (s *Server) auditActions(st *State) []option {
	seen := map[string]bool{}
	var out []option
	add := func(a string) {
		if !seen[a] {
			seen[a] = true
			out = append(out, option{ID: a, Label: s.auditActionLabel(st, a)})
		}
	}
	for _, a := range CoreAuditActions {
		add(a)
	}
	for _, id := range st.Tenant.EnabledModules() {
		if man := s.Modules.Manifest(id); man != nil {
			for _, a := range man.AuditActions {
				add(a)
			}
		}
	}
	// In the order of the reader's alphabet ("Échec" among the E, not after "Z").
	col := collate.New(language.Make(st.Lang))
	sort.SliceStable(out, func(i, j int) bool { return col.CompareString(out[i].Label, out[j].Label) < 0 })
	return out
}

// option is one choice of a list: its value and its words.
type option struct{ ID, Label string }

func (s *Server) adminAudit(c *fiber.Ctx) error {
	flt, f, _ := s.auditFilter(c)
	var rows []auditRow
	status := fiber.StatusOK
	if len(f.Errors) > 0 {
		status = fiber.StatusUnprocessableEntity
	} else {
		entries, err := s.Trail.Search(c.UserContext(), St(c).Tenant.ID, flt)
		if err != nil {
			return err
		}
		rows = s.auditRows(c, entries, false)
	}
	return s.render(c, status, "admin_audit", "admin.audit.title", map[string]any{"Rows": rows,
		"CSV": St(c).URL(auditCSVPath(f.Values)), "Actions": s.auditActions(St(c))}, f)
}

// auditCSVPath is the export link of a search: the same filters, encoded once. (The page
// once pasted the raw query string after "?" in the template, which escaped it a second
// time: the export then ignored every filter.)
func auditCSVPath(filters map[string]string) string {
	q := url.Values{}
	for k, v := range filters {
		if v != "" {
			q.Set(k, v)
		}
	}
	if len(q) == 0 {
		return "/admin/audit.csv"
	}
	return "/admin/audit.csv?" + q.Encode()
}

// adminAuditCSV exports the search as CSV (UTF-8, with the times in the tenant's zone).
func (s *Server) adminAuditCSV(c *fiber.Ctx) error {
	flt, f, _ := s.auditFilter(c)
	if len(f.Errors) > 0 {
		return fiber.ErrBadRequest
	}
	flt.Limit = 100000
	st := St(c)
	entries, err := s.Trail.Search(c.UserContext(), st.Tenant.ID, flt)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="audit-%s-%s.csv"`, st.Tenant.Slug, time.Now().Format("20060102")))
	w := csv.NewWriter(c.Response().BodyWriter())
	w.Write([]string{"seq", "time", "actor_id", "actor", "action", "subject_id", "subject", "resource", "module", "request_id", "ip", "hash"})
	for _, r := range s.auditRows(c, entries, false) {
		w.Write([]string{fmt.Sprint(r.Seq), r.At.In(st.Tenant.Location()).Format(time.RFC3339), r.Actor, r.ActorName, r.Action,
			r.Subject, r.SubjectName, r.Resource, r.Module, r.RequestID, r.IP, r.Hash})
	}
	w.Flush()
	return w.Error()
}

// checkpointAudit signs the tenant's audit chain head when the tenant's interval
// (audit.checkpoint_minutes) has passed since the last checkpoint and the chain grew (P9).
func (s *Server) checkpointAudit(ctx context.Context, t *tenancy.Tenant) error {
	if s.Cfg.AuditKeys == nil {
		return nil // no key configured (tests, one-off commands): nothing to sign with
	}
	every := time.Duration(t.IntRule("audit.checkpoint_minutes")) * time.Minute
	cp, err := s.Trail.Checkpoint(ctx, t.ID, s.Cfg.AuditKeys, every)
	if err != nil {
		return fmt.Errorf("audit checkpoint: %w", err)
	}
	if cp != nil {
		s.Log.Info("audit checkpoint signed", "tenant", t.Slug, "seq", cp.Seq, "key", cp.KeyID)
	}
	return nil
}

// adminAuditCheckpoints downloads the tenant's signed checkpoints with the public keys that
// verify them: kept outside the platform, the file lets anyone detect a rebuilt trail
// (platform audit verify --checkpoints <file>).
func (s *Server) adminAuditCheckpoints(c *fiber.Ctx) error {
	st := St(c)
	cps, err := s.Trail.Checkpoints(c.UserContext(), st.Tenant.ID)
	if err != nil {
		return err
	}
	if cps == nil {
		cps = []audit.Checkpoint{}
	}
	now := time.Now().UTC()
	body, err := json.MarshalIndent(audit.Export{Format: audit.ExportFormat, Tenant: st.Tenant.Slug, TenantID: st.Tenant.ID,
		ExportedAt: now, Keys: s.Cfg.AuditKeys.PublicKeys(), Checkpoints: cps}, "", "  ")
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/json")
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="audit-checkpoints-%s-%s.json"`, st.Tenant.Slug, now.Format("20060102")))
	return c.Send(body)
}

// accountAccess shows a person who accessed his data (P9, R9).
func (s *Server) accountAccess(c *fiber.Ctx) error {
	st := St(c)
	entries, err := s.Trail.Search(c.UserContext(), st.Tenant.ID, audit.Filter{Subject: st.User.ID, Limit: 500})
	if err != nil {
		return err
	}
	return s.render(c, fiber.StatusOK, "account_access", "account.access.title", map[string]any{"Rows": s.auditRows(c, entries, true), "Mine": true}, nil)
}

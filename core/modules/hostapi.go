package modules

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/apikeys"
	"carenet.dev/platform/core/audit"
	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/complaints"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/form"
	"carenet.dev/platform/core/jobs"
	"carenet.dev/platform/core/mail"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/core/terms"
	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/host"
)

// The HostAPI as the core serves it to modules. Every method acts in the Scope resolved from
// the call token: the tenant of the request, job or event that caused the call (the tenant
// itself comes with the call, read once by the request that made it).

// Services returns the HostAPI the module host serves to modules.
func (s *Service) Services() host.Services {
	h := &hostAPI{s: s}
	return host.Services{Resolve: s.resolve, Terms: hostTerms{s}, Users: h, Audit: h, Messages: h, Jobs: h, Blobs: s.Blobs, Complaints: h}
}

type hostAPI struct{ s *Service }

// actorOf is who acts in a HostAPI call, as the audit trail names him: the signed-in user,
// or the API key of a machine call (R3a).
func actorOf(sc host.Scope) string {
	if sc.UserID == "" && sc.ClientID != "" {
		return audit.ActorAPIKey + sc.ClientID
	}
	return sc.UserID
}

// notFound marks a refusal the module sees as "not found".
func notFound(err error) error {
	if errors.Is(err, accounts.ErrNotFound) {
		return fmt.Errorf("%w: %v", host.ErrNotFound, err)
	}
	return err
}

// hostTerms is the Terms part of the HostAPI: a module reads its own terms or the
// account's, and records acceptances of its own.
type hostTerms struct{ s *Service }

func (h hostTerms) doc(sc host.Scope, doc string, write bool) (string, error) {
	switch {
	case doc == "":
		return sc.ModuleID, nil
	case doc == terms.DocPlatform && !write:
		return doc, nil
	}
	return "", errors.New("terms: a module reads only its own terms or the account's, and records only its own")
}

func (h hostTerms) Current(ctx context.Context, sc host.Scope, doc string) (*sdk.Terms, error) {
	d, err := h.doc(sc, doc, false)
	if err != nil {
		return nil, err
	}
	v, err := h.s.Terms.InForce(ctx, sc.TenantID, d)
	if err != nil {
		return nil, err
	}
	t, err := h.s.tenantOf(ctx, sc)
	if err != nil {
		return nil, err
	}
	texts, err := h.s.Terms.Texts(ctx, sc.TenantID, v.ID)
	if err != nil {
		return nil, err
	}
	if len(texts) == 0 {
		return nil, terms.ErrNotFound
	}
	// The title in the tenant's language (or the first written); the full text in every
	// language, for the module to send in its reader's.
	out := &sdk.Terms{VersionID: v.ID, Doc: v.Doc, Version: v.Version, Effective: v.EffectiveAt, Title: texts[0].Title,
		Bodies: make(map[string]string, len(texts))}
	for _, x := range texts {
		if x.Locale == t.Settings.DefaultLocale {
			out.Title = x.Title
		}
		out.Bodies[x.Locale] = x.Body
	}
	return out, nil
}

func (h hostTerms) accepted(ctx context.Context, sc host.Scope, d, userID string) (*sdk.Terms, *terms.Version, error) {
	v, err := h.s.Terms.InForce(ctx, sc.TenantID, d)
	if err != nil {
		return nil, nil, err
	}
	a, err := h.s.Terms.Accepted(ctx, sc.TenantID, userID, v.ID)
	if err != nil {
		return nil, nil, err
	}
	out := &sdk.Terms{VersionID: v.ID, Doc: v.Doc, Version: v.Version, Effective: v.EffectiveAt}
	if a != nil {
		out.Accepted, out.AcceptedAt = true, a.AcceptedAt
	}
	return out, v, nil
}

func (h hostTerms) Accepted(ctx context.Context, sc host.Scope, doc, userID string) (*sdk.Terms, error) {
	d, err := h.doc(sc, doc, false)
	if err != nil {
		return nil, err
	}
	a, _, err := h.accepted(ctx, sc, d, userID)
	return a, err
}

func (h hostTerms) Accept(ctx context.Context, sc host.Scope, doc, userID string) (*sdk.Terms, error) {
	d, err := h.doc(sc, doc, true)
	if err != nil {
		return nil, err
	}
	if _, err := h.s.Accounts.ByID(ctx, sc.TenantID, userID); err != nil {
		return nil, notFound(err)
	}
	_, v, err := h.accepted(ctx, sc, d, userID)
	if err != nil {
		return nil, err
	}
	if err := h.s.Terms.AcceptNow(ctx, sc.TenantID, userID, v, sc.IP, "", terms.Explicit); err != nil {
		return nil, err
	}
	a, _, err := h.accepted(ctx, sc, d, userID)
	return a, err
}

func (h *hostAPI) Lookup(ctx context.Context, sc host.Scope, id, email string) (*sdk.User, error) {
	var u *accounts.User
	var err error
	if id != "" {
		u, err = h.s.Accounts.ByID(ctx, sc.TenantID, id)
	} else {
		u, err = h.s.Accounts.ByEmail(ctx, sc.TenantID, email)
	}
	if err != nil {
		return nil, notFound(err)
	}
	roles, err := h.s.userRoles(ctx, sc.TenantID, u.ID)
	if err != nil {
		return nil, err
	}
	return h.s.User(u, roles, sc.ModuleID), nil
}

// userRoles lists a user's roles in a tenant.
func (s *Service) userRoles(ctx context.Context, tenantID, userID string) ([]string, error) {
	var roles []string
	err := s.DB.InTenant(ctx, tenantID, func(ctx context.Context, dsc *db.Scope) error {
		var err error
		roles, err = s.Authz.UserRoles(ctx, dsc, userID)
		return err
	})
	return roles, err
}

func (s *Service) record(ctx context.Context, sc host.Scope, e audit.Entry) error {
	e.Actor, e.Module, e.RequestID, e.IP = actorOf(sc), sc.ModuleID, sc.RequestID, sc.IP
	return s.Trail.Append(ctx, sc.TenantID, e)
}

// CheckSecret compares an answer with the user's secret answer (P2, R2) and records the
// check with its outcome, a failed one as failed (issue 12.3); the answer never leaves the
// core.
func (h *hostAPI) CheckSecret(ctx context.Context, sc host.Scope, userID, answer string) (bool, bool, error) {
	if err := h.mayAct(ctx, sc, userID, ""); err != nil {
		return false, false, err
	}
	match, has, err := h.s.Accounts.CheckSecret(ctx, sc.TenantID, userID, answer)
	if err != nil {
		return false, false, notFound(err)
	}
	err = h.s.record(ctx, sc, audit.Entry{Action: audit.SecretCheckAction(match), Subject: userID, Resource: "user:" + userID,
		Detail: map[string]any{"match": match, "has_secret": has}})
	return match, has, err
}

// SetRole gives or takes away one of the module's own assignable roles (P3): never a core
// role, another module's role or an implicit one. Every instance reloads the tenant's rules,
// and the change is audited as the admin pages audit theirs.
func (h *hostAPI) SetRole(ctx context.Context, sc host.Scope, userID, local string, on bool) error {
	man := h.s.Manifest(sc.ModuleID)
	if man == nil {
		return fmt.Errorf("users: module %s is not running", sc.ModuleID)
	}
	role := ""
	for _, r := range man.Roles {
		if r.ID == local && !r.Implicit {
			role = RoleID(man.ID, r)
		}
	}
	if role == "" {
		return fmt.Errorf("users: %q is not an assignable role of module %s", local, sc.ModuleID)
	}
	if _, err := h.s.Accounts.ByID(ctx, sc.TenantID, userID); err != nil {
		return notFound(err)
	}
	changed := false
	err := h.s.DB.InTenant(ctx, sc.TenantID, func(ctx context.Context, dsc *db.Scope) error {
		// The person acting may change the module's role of this account only if the
		// account holds no other right he lacks (P3); the role itself is the module's to
		// govern (its own permission on the route).
		if err := h.mayActIn(ctx, dsc, sc, userID, role); err != nil {
			return err
		}
		held, err := h.s.Authz.UserRoles(ctx, dsc, userID)
		if err != nil {
			return err
		}
		if contains(held, role) == on {
			return nil
		}
		changed = true
		if on {
			return h.s.Authz.AssignRole(ctx, dsc, userID, role)
		}
		return h.s.Authz.RevokeRole(ctx, dsc, userID, role)
	})
	if err != nil || !changed {
		return err
	}
	if err := h.s.Tenants.BumpPolicy(ctx, sc.TenantID); err != nil {
		return err
	}
	action := audit.ActRoleAssigned
	if !on {
		action = audit.ActRoleRemoved
	}
	return h.s.record(ctx, sc, audit.Entry{Action: action, Subject: userID, Resource: "role:" + role, Detail: map[string]any{"role": role}})
}

// Invite opens the account staff assign a person (P2, B1): the core creates it (or finds
// the tenant's account of that address), gives it the module's role when one is named (with
// SetRole's checks) and e-mails a new account the link to choose its password, in its
// language, on the tenant's hostname. Opening an account is audited.
func (h *hostAPI) Invite(ctx context.Context, sc host.Scope, email, name, locale, role string) (*sdk.User, bool, error) {
	t, err := h.s.tenantOf(ctx, sc)
	if err != nil {
		return nil, false, err
	}
	u, token, created, err := h.s.Accounts.Invite(ctx, t, email, name, locale)
	if err != nil {
		return nil, false, err
	}
	if created {
		if err := h.s.record(ctx, sc, audit.Entry{Action: audit.ActInvited, Subject: u.ID, Resource: "user:" + u.ID}); err != nil {
			return nil, false, err
		}
		if _, err := h.s.Mailer.SendMailWith(ctx, t, u.Email, u.Name, t.Lang(u.Locale, ""), "invite",
			h.s.Mailer.PortalLink(t, u.Portal, "/reset/confirm?token="+token), mail.Message{Secret: true},
			"Hours", t.IntRule("account.invite_link_hours")); err != nil {
			return nil, false, err
		}
	}
	if role != "" {
		if err := h.SetRole(ctx, sc, u.ID, role, true); err != nil {
			return nil, false, err
		}
	}
	roles, err := h.s.userRoles(ctx, sc.TenantID, u.ID)
	if err != nil {
		return nil, false, err
	}
	return h.s.User(u, roles, sc.ModuleID), created, nil
}

// ErrOutOfReach refuses a HostAPI call that acts on an account holding a right the person
// the call acts for does not hold (authz.MayActOn).
var ErrOutOfReach = errors.New("users: the account holds a right the person acting does not hold")

// mayAct applies authz.MayActOn to a call made for a signed-in person; calls of a job, an
// event or a machine act for nobody and pass.
func (h *hostAPI) mayAct(ctx context.Context, sc host.Scope, userID, except string) error {
	if sc.UserID == "" {
		return nil
	}
	return h.s.DB.ReadTenant(ctx, sc.TenantID, func(ctx context.Context, dsc *db.Scope) error {
		return h.mayActIn(ctx, dsc, sc, userID, except)
	})
}

func (h *hostAPI) mayActIn(ctx context.Context, dsc *db.Scope, sc host.Scope, userID, except string) error {
	if sc.UserID == "" {
		return nil
	}
	ok, err := h.s.Authz.MayActOn(ctx, dsc, sc.UserID, userID, except)
	if err != nil {
		return err
	}
	if !ok {
		return ErrOutOfReach
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (h *hostAPI) Record(ctx context.Context, sc host.Scope, r sdk.AuditRecord) error {
	if r.Action == "" {
		return errors.New("audit: action is required")
	}
	return h.s.record(ctx, sc, audit.Entry{Action: r.Action, Subject: r.Subject, Resource: r.Resource, Detail: r.Detail})
}

// Audit listing bounds: what a module shows a person of who touched his data (P9, R9).
const (
	auditListDefault = 100
	auditListMax     = 500
)

// List returns the records of the scope module's actions about subject, newest first, with
// who acted: a user (his name and roles as the module sees them), an API key (its name) or
// the system.
func (h *hostAPI) List(ctx context.Context, sc host.Scope, subject string, limit int) ([]sdk.AuditRecord, error) {
	if subject == "" {
		return nil, errors.New("audit: subject is required")
	}
	if limit <= 0 {
		limit = auditListDefault
	}
	if limit > auditListMax {
		limit = auditListMax
	}
	entries, err := h.s.Trail.Search(ctx, sc.TenantID, audit.Filter{Subject: subject, Action: sc.ModuleID + ".", Limit: limit})
	if err != nil {
		return nil, err
	}
	actors := map[string]sdk.AuditRecord{}
	out := make([]sdk.AuditRecord, 0, len(entries))
	for _, e := range entries {
		if !strings.HasPrefix(e.Action, sc.ModuleID+".") {
			continue
		}
		a, ok := actors[e.Actor]
		if !ok {
			if a, err = h.s.auditActor(ctx, sc, e.Actor); err != nil {
				return nil, err
			}
			actors[e.Actor] = a
		}
		out = append(out, sdk.AuditRecord{At: e.At, Action: e.Action, Subject: subject, Resource: e.Resource, Detail: e.Detail, ActorID: e.Actor,
			ActorName: a.ActorName, ActorKind: a.ActorKind, ActorRoles: a.ActorRoles})
	}
	return out, nil
}

// Kinds of audit actors a module sees.
const (
	actorKindUser   = "user"
	actorKindClient = "client"
	actorKindSystem = "system"
)

// auditActor names the actor of a record: a user of the tenant (name and roles), a platform
// admin, an API key (its name, even once revoked), or the system (a job, an event).
func (s *Service) auditActor(ctx context.Context, sc host.Scope, actor string) (sdk.AuditRecord, error) {
	switch {
	case actor == "":
		return sdk.AuditRecord{ActorKind: actorKindSystem}, nil
	case strings.HasPrefix(actor, audit.ActorAPIKey):
		k, err := s.APIKeys.Get(ctx, sc.TenantID, strings.TrimPrefix(actor, audit.ActorAPIKey))
		if errors.Is(err, apikeys.ErrNotFound) {
			return sdk.AuditRecord{ActorKind: actorKindClient}, nil
		}
		if err != nil {
			return sdk.AuditRecord{}, err
		}
		return sdk.AuditRecord{ActorKind: actorKindClient, ActorName: k.Name}, nil
	case strings.HasPrefix(actor, "platform:"):
		out := sdk.AuditRecord{ActorKind: actorKindUser, ActorRoles: []string{authz.RolePlatformAdmin}}
		if console, err := s.Tenants.BySlug(ctx, tenancy.ConsoleSlug); err == nil {
			if u, err := s.Accounts.ByID(ctx, console.ID, strings.TrimPrefix(actor, "platform:")); err == nil {
				out.ActorName = u.Name
			}
		}
		return out, nil
	}
	out := sdk.AuditRecord{ActorKind: actorKindUser}
	u, err := s.Accounts.ByID(ctx, sc.TenantID, actor)
	if errors.Is(err, accounts.ErrNotFound) {
		return out, nil // a deleted account: no name, no roles
	}
	if err != nil {
		return out, err
	}
	out.ActorName = u.Name
	roles, err := s.userRoles(ctx, sc.TenantID, u.ID)
	out.ActorRoles = s.ModuleRoles(sc.ModuleID, roles)
	return out, err
}

// Send renders the module's template in the recipient's language and sends it: by e-mail
// ("mail.<template>.*"), or by SMS ("sms.<template>") to the number given or the user's
// mobile (sendSMS).
func (h *hostAPI) Send(ctx context.Context, sc host.Scope, msg sdk.Message) (string, error) {
	if msg.Channel != "" && msg.Channel != "email" && msg.Channel != "sms" {
		return "", fmt.Errorf("messages: unknown channel %q", msg.Channel)
	}
	t, err := h.s.tenantOf(ctx, sc)
	if err != nil {
		return "", err
	}
	var u *accounts.User
	lang, portal := t.Settings.DefaultLocale, ""
	if msg.UserID != "" {
		if u, err = h.s.Accounts.ByID(ctx, sc.TenantID, msg.UserID); err != nil {
			return "", notFound(err)
		}
		lang, portal = t.Lang(u.Locale, ""), u.Portal
	}
	if msg.Channel == "sms" {
		if len(msg.Attachments) > 0 {
			return "", errors.New("messages: an SMS carries no file")
		}
		return h.sendSMS(ctx, sc, t, u, lang, portal, msg)
	}
	to, name := msg.To, ""
	if u != nil {
		to, name = u.Email, u.Name
	}
	if accounts.NormalizeEmail(to) == "" {
		return "", errors.New("messages: no valid recipient")
	}
	if !h.s.I18n.Has(lang, "mail."+msg.Template+".subject") {
		return "", fmt.Errorf("messages: unknown template %q", msg.Template)
	}
	var kv []any
	for k, v := range msg.Data {
		kv = append(kv, k, v)
	}
	files := make([]mail.Attachment, len(msg.Attachments))
	for i, a := range msg.Attachments {
		files[i] = mail.Attachment{Name: a.Name, ContentType: a.ContentType, Data: a.Data}
	}
	return h.s.Mailer.SendMailWith(ctx, t, to, name, lang, msg.Template, h.s.Mailer.PortalLink(t, portal, msg.Link),
		mail.Message{Attachments: files, Secret: msg.Secret}, kv...)
}

// MobileField is the registration field (Type "tel") a module asks for when it sends SMS to
// its users: the HostAPI sends to the number it holds.
const MobileField = "mobile"

// sendSMS sends "sms.<template>" (or the tenant's own wording of it) to the number given or
// to the user's mobile, in E.164. A tenant that has not switched SMS on
// (notifications.sms), or a user without a mobile number, gets none: nothing is queued, the
// log says why, and the module is answered an empty id (P7).
func (h *hostAPI) sendSMS(ctx context.Context, sc host.Scope, t *tenancy.Tenant, u *accounts.User, lang, portal string, msg sdk.Message) (string, error) {
	if !h.s.I18n.Has(lang, "sms."+msg.Template) {
		return "", fmt.Errorf("messages: unknown SMS template %q", msg.Template)
	}
	if !t.BoolRule("notifications.sms") {
		h.s.Log.Info("sms not sent: the tenant has not switched SMS on (rule notifications.sms)", "tenant", t.Slug,
			"module", sc.ModuleID, "template", msg.Template)
		return "", nil
	}
	raw := msg.To
	if raw == "" && u != nil {
		raw = u.Profile[MobileField]
		if strings.TrimSpace(raw) == "" {
			h.s.Log.Info("sms not sent: the user gave no mobile number", "tenant", t.Slug, "module", sc.ModuleID,
				"template", msg.Template, "user", u.ID)
			return "", nil
		}
	}
	to, key := accounts.NormalizeMobile(raw, t.Settings.Country)
	if key != "" {
		return "", errors.New("messages: no valid mobile number")
	}
	kv := []any{"Tenant", t.Settings.Branding.Name, "Link", h.s.Mailer.PortalLink(t, portal, msg.Link)}
	for k, v := range msg.Data {
		kv = append(kv, k, v)
	}
	text, err := h.s.Mailer.SMSText(ctx, t, lang, msg.Template, kv...)
	if err != nil {
		return "", err
	}
	// The mailbox lists an SMS by what it is, in words ("mail.<template>.name"), never by its
	// template's id.
	subject := msg.Template
	if h.s.I18n != nil {
		if loc := h.s.I18n.For(lang); loc.Has("mail." + msg.Template + ".name") {
			subject = loc.T("mail." + msg.Template + ".name")
		}
	}
	e, err := h.s.Outbox.Send(ctx, t, mail.Message{Channel: "sms", To: to, Subject: subject,
		Text: text, Template: msg.Template, Locale: lang})
	if err != nil {
		return "", err
	}
	return e.ID, nil
}

func (h *hostAPI) Schedule(ctx context.Context, sc host.Scope, job sdk.Job) (string, error) {
	if strings.HasPrefix(job.Name, eventPrefix) {
		return "", errors.New("jobs: a module's job cannot be named like a core event")
	}
	return h.s.Jobs.Enqueue(ctx, sc.TenantID, jobs.Spec{Module: sc.ModuleID, Name: job.Name, Key: job.Key, At: job.At, Payload: job.Payload})
}

func (h *hostAPI) Cancel(ctx context.Context, sc host.Scope, key string) error {
	return h.s.Jobs.Cancel(ctx, sc.TenantID, sc.ModuleID, key)
}

// Lodge records a complaint or support request of the scope's module (P10, R8) through the
// core's complaints service, with the tenant's rules, and confirms receipt to ReplyTo as the
// core's form does. What breaks the rules comes back as sdk.FieldErrors.
func (h *hostAPI) Lodge(ctx context.Context, sc host.Scope, d sdk.Complaint) (*sdk.Complaint, error) {
	t, err := h.s.tenantOf(ctx, sc)
	if err != nil {
		return nil, err
	}
	lang := t.Settings.DefaultLocale
	if d.UserID != "" {
		u, err := h.s.Accounts.ByID(ctx, sc.TenantID, d.UserID)
		if errors.Is(err, accounts.ErrNotFound) {
			return nil, sdk.FieldErrors{"user_id": "form.invalid"}
		}
		if err != nil {
			return nil, err
		}
		lang = t.Lang(u.Locale, "")
	}
	cp, err := h.s.Complaints.Lodge(ctx, t.ID, complaints.RulesOf(t), complaints.Draft{Module: sc.ModuleID, Category: d.Category,
		Body: d.Body, ReplyTo: d.ReplyTo, UserID: d.UserID, Locale: lang, Due: d.Due},
		func(e string) bool { return accounts.NormalizeEmail(e) != "" })
	var ferr form.Errors
	if errors.As(err, &ferr) {
		return nil, sdk.FieldErrors(ferr)
	}
	if err != nil {
		return nil, err
	}
	if _, err := h.s.Mailer.SendMail(ctx, t, cp.ReplyTo, "", lang, "complaint_received", "",
		"Reference", cp.Reference, "Date", h.s.Mailer.FormatDay(lang, cp.DueAt, t)); err != nil {
		return nil, err
	}
	d.ID, d.Reference, d.Due = cp.ID, cp.Reference, cp.DueAt
	return &d, nil
}

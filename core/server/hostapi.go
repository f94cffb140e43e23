package server

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/uptrace/bun"

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
)

// The HostAPI as the core serves it to modules. Every method acts in the Scope the module
// host resolved from the call token: the tenant of the request, job or event that caused the
// call. Jobs and blobs are simple durable implementations (a table, files on disk) that the
// core services will complete.

// BlobRow describes a stored file of a module in a tenant.
type BlobRow struct {
	bun.BaseModel `bun:"table:blobs,alias:b"`

	TenantID    string    `bun:"tenant_id,pk"`
	ID          string    `bun:"id,pk"`
	Module      string    `bun:"module"`
	Name        string    `bun:"name"`
	ContentType string    `bun:"content_type"`
	Size        int64     `bun:"size"`
	SHA256      string    `bun:"sha256"`
	CreatedAt   time.Time `bun:"created_at"`
}

// OwnerTenant marks blobs as a tenant table.
func (b *BlobRow) OwnerTenant() string { return b.TenantID }

// HostServices returns the HostAPI the module host serves to modules.
func (s *Server) HostServices() sdk.HostServices {
	h := &hostAPI{s: s}
	return sdk.HostServices{Terms: hostTerms{h.s}, Users: h, Audit: h, Messages: h, Jobs: h, Blobs: h, Complaints: h}
}

// actorOf is who acts in a HostAPI call, as the audit trail names him: the signed-in user,
// or the API key of a machine call (R3a).
func actorOf(sc sdk.Scope) string {
	if sc.UserID == "" && sc.ClientID != "" {
		return actorAPIKey + sc.ClientID
	}
	return sc.UserID
}

// sdkUser is an account as a module sees it: identity, the fields its registration asked,
// the portal it came through, its secret question (never the answer) and its state.
func sdkUser(u *accounts.User, roles []string) *sdk.User {
	profile := map[string]string{}
	for k, v := range u.Profile {
		profile[k] = v
	}
	return &sdk.User{ID: u.ID, Email: u.Email, Name: u.Name, Locale: u.Locale, Roles: roles, BirthDate: u.BirthDate,
		Profile: profile, Portal: u.Portal, SecretQuestion: u.SecretQuestion, Status: u.Status}
}

type hostAPI struct{ s *Server }

// Audit appends a record to the tenant's audit trail.
func (s *Server) Audit(ctx context.Context, tenantID string, e audit.Entry) error {
	return s.Trail.Append(ctx, tenantID, e)
}

// hostTerms is the Terms part of the HostAPI: a module reads its own terms or the
// account's, and records acceptances of its own.
type hostTerms struct{ s *Server }

func (h hostTerms) doc(sc sdk.Scope, doc string, write bool) (string, error) {
	switch {
	case doc == "":
		return sc.ModuleID, nil
	case doc == terms.DocPlatform && !write:
		return doc, nil
	}
	return "", fmt.Errorf("terms: a module reads only its own terms or the account's, and records only its own")
}

func (h hostTerms) Current(ctx context.Context, sc sdk.Scope, doc string) (*sdk.TermsVersion, error) {
	d, err := h.doc(sc, doc, false)
	if err != nil {
		return nil, err
	}
	v, err := h.s.Terms.InForce(ctx, sc.TenantID, d)
	if err != nil {
		return nil, err
	}
	t, err := h.s.Tenants.ByID(ctx, sc.TenantID)
	if err != nil {
		return nil, err
	}
	txt, err := h.s.Terms.Text(ctx, sc.TenantID, v.ID, t.Settings.DefaultLocale, "")
	if err != nil {
		return nil, err
	}
	return &sdk.TermsVersion{ID: v.ID, Doc: v.Doc, Version: v.Version, Effective: v.EffectiveAt, Title: txt.Title}, nil
}

func (h hostTerms) accepted(ctx context.Context, sc sdk.Scope, d, userID string) (*sdk.TermsAcceptance, *terms.Version, error) {
	v, err := h.s.Terms.InForce(ctx, sc.TenantID, d)
	if err != nil {
		return nil, nil, err
	}
	a, err := h.s.Terms.Accepted(ctx, sc.TenantID, userID, v.ID)
	if err != nil {
		return nil, nil, err
	}
	out := &sdk.TermsAcceptance{VersionID: v.ID, Version: v.Version}
	if a != nil {
		out.Accepted, out.At = true, a.AcceptedAt
	}
	return out, v, nil
}

func (h hostTerms) Accepted(ctx context.Context, sc sdk.Scope, doc, userID string) (*sdk.TermsAcceptance, error) {
	d, err := h.doc(sc, doc, false)
	if err != nil {
		return nil, err
	}
	a, _, err := h.accepted(ctx, sc, d, userID)
	return a, err
}

func (h hostTerms) Accept(ctx context.Context, sc sdk.Scope, doc, userID string) (*sdk.TermsAcceptance, error) {
	d, err := h.doc(sc, doc, true)
	if err != nil {
		return nil, err
	}
	if _, err := h.s.Accounts.ByID(ctx, sc.TenantID, userID); err != nil {
		return nil, err
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

func (h *hostAPI) Lookup(ctx context.Context, sc sdk.Scope, id, email string) (*sdk.User, error) {
	var u *accounts.User
	var err error
	if id != "" {
		u, err = h.s.Accounts.ByID(ctx, sc.TenantID, id)
	} else {
		u, err = h.s.Accounts.ByEmail(ctx, sc.TenantID, email)
	}
	if err != nil {
		return nil, err
	}
	roles, err := h.s.userRoles(ctx, sc.TenantID, u.ID)
	if err != nil {
		return nil, err
	}
	return sdkUser(u, roles), nil
}

// userRoles lists a user's roles in a tenant.
func (s *Server) userRoles(ctx context.Context, tenantID, userID string) ([]string, error) {
	var roles []string
	err := s.DB.InTenant(ctx, tenantID, func(ctx context.Context, dsc *db.Scope) error {
		var err error
		roles, err = s.Authz.UserRoles(ctx, dsc, userID)
		return err
	})
	return roles, err
}

// CheckSecret compares an answer with the user's secret answer (P2, R2) and records the
// check; the answer never leaves the core.
func (h *hostAPI) CheckSecret(ctx context.Context, sc sdk.Scope, userID, answer string) (bool, bool, error) {
	match, has, err := h.s.Accounts.CheckSecret(ctx, sc.TenantID, userID, answer)
	if err != nil {
		return false, false, err
	}
	err = h.s.Audit(ctx, sc.TenantID, audit.Entry{Actor: actorOf(sc), Module: sc.ModuleID, Action: ActSecretChecked,
		Subject: userID, Resource: "user:" + userID, RequestID: sc.RequestID, IP: sc.IP, Detail: map[string]any{"match": match, "has_secret": has}})
	return match, has, err
}

// SetRole gives or takes away one of the module's own assignable roles (P3): never a core
// role, another module's role or an implicit one. Every instance reloads the tenant's rules,
// and the change is audited as the admin pages audit theirs.
func (h *hostAPI) SetRole(ctx context.Context, sc sdk.Scope, userID, role string, on bool) error {
	man := h.s.manifest(sc.ModuleID)
	if man == nil {
		return fmt.Errorf("users: module %s is not running", sc.ModuleID)
	}
	declared := false
	for _, r := range man.Roles {
		if r.ID == role && !r.Implicit {
			declared = true
		}
	}
	if !declared {
		return fmt.Errorf("users: %q is not an assignable role of module %s", role, sc.ModuleID)
	}
	if _, err := h.s.Accounts.ByID(ctx, sc.TenantID, userID); err != nil {
		return err
	}
	changed := false
	err := h.s.DB.InTenant(ctx, sc.TenantID, func(ctx context.Context, dsc *db.Scope) error {
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
	action := ActRoleAssigned
	if !on {
		action = ActRoleRemoved
	}
	return h.s.Audit(ctx, sc.TenantID, audit.Entry{Actor: actorOf(sc), Module: sc.ModuleID, Action: action, Subject: userID,
		Resource: "role:" + role, RequestID: sc.RequestID, IP: sc.IP, Detail: map[string]any{"role": role}})
}

func (h *hostAPI) Record(ctx context.Context, sc sdk.Scope, r sdk.AuditRecord) error {
	if r.Action == "" {
		return errors.New("audit: action is required")
	}
	return h.s.Audit(ctx, sc.TenantID, audit.Entry{Actor: actorOf(sc), Module: sc.ModuleID, Action: r.Action,
		Subject: r.Subject, Resource: r.Resource, RequestID: sc.RequestID, IP: sc.IP, Detail: r.Detail})
}

// Audit listing bounds: what a module shows a person of who touched his data (P9, R9).
const (
	auditListDefault = 100
	auditListMax     = 500
)

// List returns the records of the scope module's actions about subject, newest first, with
// who acted: a user (his name and roles in the tenant), an API key (its name) or the system.
func (h *hostAPI) List(ctx context.Context, sc sdk.Scope, subject string, limit int) ([]sdk.AuditEntry, error) {
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
	actors := map[string]sdk.AuditEntry{}
	out := make([]sdk.AuditEntry, 0, len(entries))
	for _, e := range entries {
		if !strings.HasPrefix(e.Action, sc.ModuleID+".") {
			continue
		}
		a, ok := actors[e.Actor]
		if !ok {
			if a, err = h.s.auditActor(ctx, sc.TenantID, e.Actor); err != nil {
				return nil, err
			}
			actors[e.Actor] = a
		}
		out = append(out, sdk.AuditEntry{At: e.At, Action: e.Action, Resource: e.Resource, ActorID: e.Actor,
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
func (s *Server) auditActor(ctx context.Context, tenantID, actor string) (sdk.AuditEntry, error) {
	switch {
	case actor == "":
		return sdk.AuditEntry{ActorKind: actorKindSystem}, nil
	case strings.HasPrefix(actor, actorAPIKey):
		k, err := s.APIKeys.Get(ctx, tenantID, strings.TrimPrefix(actor, actorAPIKey))
		if errors.Is(err, apikeys.ErrNotFound) {
			return sdk.AuditEntry{ActorKind: actorKindClient}, nil
		}
		if err != nil {
			return sdk.AuditEntry{}, err
		}
		return sdk.AuditEntry{ActorKind: actorKindClient, ActorName: k.Name}, nil
	case strings.HasPrefix(actor, "platform:"):
		out := sdk.AuditEntry{ActorKind: actorKindUser, ActorRoles: []string{authz.RolePlatformAdmin}}
		if console, err := s.Tenants.BySlug(ctx, tenancy.ConsoleSlug); err == nil {
			if u, err := s.Accounts.ByID(ctx, console.ID, strings.TrimPrefix(actor, "platform:")); err == nil {
				out.ActorName = u.Name
			}
		}
		return out, nil
	}
	out := sdk.AuditEntry{ActorKind: actorKindUser}
	u, err := s.Accounts.ByID(ctx, tenantID, actor)
	if errors.Is(err, accounts.ErrNotFound) {
		return out, nil // a deleted account: no name, no roles
	}
	if err != nil {
		return out, err
	}
	out.ActorName = u.Name
	out.ActorRoles, err = s.userRoles(ctx, tenantID, u.ID)
	return out, err
}

// Send renders the module's template in the recipient's language and sends it: by e-mail
// ("mail.<template>.*"), or by SMS ("sms.<template>") to the number given or the user's
// mobile.
func (h *hostAPI) Send(ctx context.Context, sc sdk.Scope, msg sdk.Message) (string, error) {
	if msg.Channel == "sms" {
		return h.sendSMS(ctx, sc, msg)
	}
	if msg.Channel != "" && msg.Channel != "email" {
		return "", fmt.Errorf("messages: unknown channel %q", msg.Channel)
	}
	t, err := h.s.Tenants.ByID(ctx, sc.TenantID)
	if err != nil {
		return "", err
	}
	to, name, lang, portal := msg.To, "", t.Settings.DefaultLocale, ""
	if msg.UserID != "" {
		u, err := h.s.Accounts.ByID(ctx, sc.TenantID, msg.UserID)
		if err != nil {
			return "", err
		}
		to, name, lang, portal = u.Email, u.Name, t.Lang(u.Locale, ""), u.Portal
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
	id, err := h.s.sendMailID(ctx, t, to, name, lang, msg.Template, h.s.absLink(t, portal, msg.Link), kv...)
	return id, err
}

// absLink makes the link of a module's message one the person can follow: a path
// ("/login?next=/results/mine") goes to the hostname of the portal he registered through,
// else to the tenant's first hostname (or the /t/<slug>/ fallback). A module does not know
// the public address of the platform.
func (s *Server) absLink(t *tenancy.Tenant, portal, link string) string {
	if !strings.HasPrefix(link, "/") || strings.HasPrefix(link, "//") {
		return link
	}
	if portal != "" {
		for _, h := range t.Hostnames {
			if h.Portal == portal {
				return s.hostURL(h.Hostname, link)
			}
		}
	}
	return s.tenantURL(t, link)
}

var phoneRe = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)

func (h *hostAPI) sendSMS(ctx context.Context, sc sdk.Scope, msg sdk.Message) (string, error) {
	t, err := h.s.Tenants.ByID(ctx, sc.TenantID)
	if err != nil {
		return "", err
	}
	to, lang, portal := strings.ReplaceAll(msg.To, " ", ""), t.Settings.DefaultLocale, ""
	if msg.UserID != "" {
		u, err := h.s.Accounts.ByID(ctx, sc.TenantID, msg.UserID)
		if err != nil {
			return "", err
		}
		if to == "" {
			to = strings.ReplaceAll(u.Profile["mobile"], " ", "")
		}
		lang, portal = t.Lang(u.Locale, ""), u.Portal
	}
	if !phoneRe.MatchString(to) {
		return "", errors.New("messages: no valid mobile number (E.164, +country…)")
	}
	if !h.s.I18n.Has(lang, "sms."+msg.Template) {
		return "", fmt.Errorf("messages: unknown SMS template %q", msg.Template)
	}
	kv := []any{"Tenant", t.Settings.Branding.Name, "Link", h.s.absLink(t, portal, msg.Link)}
	for k, v := range msg.Data {
		kv = append(kv, k, v)
	}
	e, err := h.s.Mail.Send(ctx, t, mail.Message{Channel: "sms", To: to, Subject: msg.Template,
		Text: h.s.I18n.For(lang).T("sms."+msg.Template, kv...), Template: msg.Template, Locale: lang})
	if err != nil {
		return "", err
	}
	return e.ID, nil
}

func (h *hostAPI) Schedule(ctx context.Context, sc sdk.Scope, spec sdk.JobSpec) (string, error) {
	return h.s.Jobs.Enqueue(ctx, sc.TenantID, jobs.Spec{Module: sc.ModuleID, Name: spec.Name, Key: spec.IdempotencyKey,
		At: spec.At, Payload: spec.Payload})
}

func (h *hostAPI) Cancel(ctx context.Context, sc sdk.Scope, key string) error {
	return h.s.Jobs.Cancel(ctx, sc.TenantID, sc.ModuleID, key)
}

const maxBlob = 50 << 20

func (h *hostAPI) blobPath(tenantID, module, id string) string {
	return filepath.Join(h.s.Cfg.DataDir, "blobs", tenantID, module, id)
}

func (h *hostAPI) Put(ctx context.Context, sc sdk.Scope, b sdk.Blob) (string, error) {
	if len(b.Data) > maxBlob {
		return "", errors.New("blobs: file too large")
	}
	sum := sha256.Sum256(b.Data)
	row := &BlobRow{TenantID: sc.TenantID, ID: tenancy.NewID(), Module: sc.ModuleID, Name: filepath.Base(b.Name),
		ContentType: b.ContentType, Size: int64(len(b.Data)), SHA256: hex.EncodeToString(sum[:]), CreatedAt: time.Now().UTC()}
	path := h.blobPath(sc.TenantID, sc.ModuleID, row.ID)
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, b.Data, 0o640); err != nil {
		return "", err
	}
	err := h.s.DB.InTenant(ctx, sc.TenantID, func(ctx context.Context, dsc *db.Scope) error {
		_, err := dsc.Insert(row).Exec(ctx)
		return err
	})
	if err != nil {
		os.Remove(path)
		return "", err
	}
	return row.ID, nil
}

func (h *hostAPI) Get(ctx context.Context, sc sdk.Scope, id string) (*sdk.Blob, error) {
	var row BlobRow
	err := h.s.DB.InTenant(ctx, sc.TenantID, func(ctx context.Context, dsc *db.Scope) error {
		return dsc.Select(&row).Where("id = ? AND module = ?", id, sc.ModuleID).Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errors.New("blobs: not found")
	}
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(h.blobPath(sc.TenantID, sc.ModuleID, row.ID))
	if err != nil {
		return nil, err
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != row.SHA256 {
		return nil, errors.New("blobs: stored file does not match its checksum")
	}
	return &sdk.Blob{Name: row.Name, ContentType: row.ContentType, Data: data}, nil
}

// Delete removes a file of the scope's tenant and module; an unknown id is not an error.
func (h *hostAPI) Delete(ctx context.Context, sc sdk.Scope, id string) error {
	deleted := false
	err := h.s.DB.InTenant(ctx, sc.TenantID, func(ctx context.Context, dsc *db.Scope) error {
		res, err := dsc.Delete((*BlobRow)(nil)).Where("id = ? AND module = ?", id, sc.ModuleID).Exec(ctx)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		deleted = n == 1
		return nil
	})
	if err != nil || !deleted {
		return err
	}
	// The row named a stored file: the id is one the core made, safe in a path.
	if err := os.Remove(h.blobPath(sc.TenantID, sc.ModuleID, id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Lodge records a complaint or support request of the scope's module (P10, R8) through the
// core's complaints service, with the tenant's rules, and confirms receipt to ReplyTo as the
// core's form does. What breaks the rules comes back as sdk.FieldErrors.
func (h *hostAPI) Lodge(ctx context.Context, sc sdk.Scope, d sdk.ComplaintDraft) (*sdk.ComplaintReceipt, error) {
	t, err := h.s.Tenants.ByID(ctx, sc.TenantID)
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
	cp, err := h.s.Complaints.Lodge(ctx, t.ID, complaintRules(t), complaints.Draft{Module: sc.ModuleID, Category: d.Category,
		Body: d.Body, ReplyTo: d.ReplyTo, UserID: d.UserID, Locale: lang, Due: d.Due},
		func(e string) bool { return accounts.NormalizeEmail(e) != "" })
	var ferr form.Errors
	if errors.As(err, &ferr) {
		return nil, sdk.FieldErrors(ferr)
	}
	if err != nil {
		return nil, err
	}
	if err := h.s.sendMail(ctx, t, cp.ReplyTo, "", lang, "complaint_received", "",
		"Reference", cp.Reference, "Date", formatDay(lang, cp.DueAt, t)); err != nil {
		return nil, err
	}
	return &sdk.ComplaintReceipt{ID: cp.ID, Reference: cp.Reference, Due: cp.DueAt}, nil
}

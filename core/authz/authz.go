// Package authz owns roles and permissions: the Casbin model (RBAC with domains = tenants),
// the rules stored in the core database, and the one function that answers "may this user do
// this here". It must not know about HTTP; the server calls Allowed for every route.
package authz

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/persist"
	"github.com/casbin/casbin/v2/util"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"carenet.dev/platform/core/db"
)

//go:embed model.conf
var modelText string

// Roles of the core. Modules declare their own (lab_staff, doctor, patient…).
const (
	RolePlatformAdmin = "platform_admin"
	RoleTenantAdmin   = "tenant_admin"
	RoleUser          = "user" // every verified, unblocked account
)

// Permissions of the core. Every route declares one of these (or a module's).
const (
	// PermPublic marks a route anyone may call; it is declared, never granted.
	PermPublic          = "public"
	PermAccount         = "account.self"
	PermAdminUsers      = "admin.users"
	PermAdminRoles      = "admin.roles"
	PermAdminMailbox    = "admin.mailbox"
	PermAdminSettings   = "admin.settings"
	PermAdminJobs       = "admin.jobs"
	PermAdminAudit      = "admin.audit"
	PermAdminTerms      = "admin.terms"
	PermAdminComplaints = "admin.complaints"
	PermAdminAPIKeys    = "admin.api_keys"
	PermPlatformJobs    = "platform.jobs"
	PermPlatformTenants = "platform.tenants"
	PermPlatformUsers   = "platform.users"
	PermPlatformModules = "platform.modules"
)

// CoreGrants are the default grants of the core roles, installed in every tenant.
var CoreGrants = []Grant{
	{Role: RoleUser, Permission: PermAccount},
	{Role: RoleTenantAdmin, Permission: PermAccount},
	{Role: RoleTenantAdmin, Permission: PermAdminUsers},
	{Role: RoleTenantAdmin, Permission: PermAdminRoles},
	{Role: RoleTenantAdmin, Permission: PermAdminMailbox},
	{Role: RoleTenantAdmin, Permission: PermAdminSettings},
	{Role: RoleTenantAdmin, Permission: PermAdminJobs},
	{Role: RoleTenantAdmin, Permission: PermAdminAudit},
	{Role: RoleTenantAdmin, Permission: PermAdminTerms},
	{Role: RoleTenantAdmin, Permission: PermAdminComplaints},
	{Role: RoleTenantAdmin, Permission: PermAdminAPIKeys},
}

// Errors a caller maps to a refusal.
var (
	ErrPlatformRight = errors.New("authz: platform rights cannot be granted by a tenant")
	ErrUnknownRole   = errors.New("authz: unknown role")
)

// Grant gives a role a permission in a tenant.
type Grant struct {
	Role       string
	Permission string
}

// Rule is one Casbin rule row. Its tenant_id is the rule's domain ("*" for platform rules).
type Rule struct {
	bun.BaseModel `bun:"table:casbin_rule,alias:cr"`

	TenantID string `bun:"tenant_id,pk"`
	ID       string `bun:"id,pk"`
	Ptype    string `bun:"ptype"`
	V0       string `bun:"v0"`
	V1       string `bun:"v1"`
	V2       string `bun:"v2"`
	V3       string `bun:"v3"`
	V4       string `bun:"v4"`
	V5       string `bun:"v5"`
}

// Subject is the Casbin subject of a user.
func Subject(userID string) string { return "u:" + userID }

// Service answers permission questions and changes grants. It keeps one enforcer per tenant,
// loaded from the database and reloaded when the tenant's policy revision moves (so every
// core instance sees a change made by any other).
type Service struct {
	DB *db.DB

	mu   sync.Mutex
	enfs map[string]*tenantEnforcer
}

type tenantEnforcer struct {
	rev int64
	e   *casbin.SyncedEnforcer

	// What the enforcer answered, per user and permission (and a user's roles), for as long
	// as rev holds: a tenant's rules change only with a new rev, which makes a new enforcer.
	mu        sync.Mutex
	decisions map[string]bool
	roles     map[string][]string
}

// maxDecisions bounds what a tenant's enforcer remembers; past it, it starts again.
const maxDecisions = 100_000

func (te *tenantEnforcer) decided(key string) (allowed, ok bool) {
	te.mu.Lock()
	defer te.mu.Unlock()
	allowed, ok = te.decisions[key]
	return allowed, ok
}

func (te *tenantEnforcer) decide(key string, allowed bool) {
	te.mu.Lock()
	defer te.mu.Unlock()
	if te.decisions == nil || len(te.decisions) >= maxDecisions {
		te.decisions = map[string]bool{}
	}
	te.decisions[key] = allowed
}

// NewService returns a Service over d.
func NewService(d *db.DB) *Service { return &Service{DB: d, enfs: map[string]*tenantEnforcer{}} }

// Allowed reports whether userID ("" for anonymous) holds perm in tenantID, whose current
// policy revision is rev.
func (s *Service) Allowed(ctx context.Context, tenantID string, rev int64, userID, perm string) (bool, error) {
	if perm == PermPublic {
		return true, nil
	}
	if userID == "" {
		return false, nil
	}
	te, err := s.enforcer(ctx, tenantID, rev)
	if err != nil {
		return false, err
	}
	key := userID + "\x00" + perm
	if allowed, ok := te.decided(key); ok {
		return allowed, nil
	}
	allowed, err := te.e.Enforce(Subject(userID), tenantID, perm)
	if err != nil {
		return false, err
	}
	te.decide(key, allowed)
	return allowed, nil
}

func (s *Service) enforcer(ctx context.Context, tenantID string, rev int64) (*tenantEnforcer, error) {
	s.mu.Lock()
	te := s.enfs[tenantID]
	s.mu.Unlock()
	if te != nil && te.rev == rev {
		return te, nil
	}
	m, err := model.NewModelFromString(modelText)
	if err != nil {
		return nil, fmt.Errorf("casbin model: %w", err)
	}
	e, err := casbin.NewSyncedEnforcer(m, &adapter{ctx: ctx, db: s.DB, tenantID: tenantID})
	if err != nil {
		return nil, fmt.Errorf("casbin enforcer: %w", err)
	}
	e.AddNamedDomainMatchingFunc("g", "keyMatch", util.KeyMatch)
	if err := e.LoadPolicy(); err != nil {
		return nil, fmt.Errorf("casbin load: %w", err)
	}
	te = &tenantEnforcer{rev: rev, e: e}
	s.mu.Lock()
	s.enfs[tenantID] = te
	s.mu.Unlock()
	return te, nil
}

// adapter loads the rules of one tenant and the platform-wide rules. It is read-only: every
// change goes through Service, the one place that refuses platform rights to tenants.
// (No bun adapter for Casbin can be fetched here, hence this small one.)
type adapter struct {
	ctx      context.Context
	db       *db.DB
	tenantID string
}

func (a *adapter) LoadPolicy(m model.Model) error {
	var rules []Rule
	err := a.db.ReadTenant(context.WithoutCancel(a.ctx), a.tenantID, func(ctx context.Context, sc *db.Scope) error {
		// The one read that spans two scopes: the tenant's rules and the platform's ("*").
		// Row-level security allows exactly these two on PostgreSQL.
		return sc.Tx.NewSelect().Model(&rules).Where("tenant_id IN (?, ?)", a.tenantID, db.PlatformDomain).
			Order("ptype", "v0", "v1", "v2").Scan(ctx)
	})
	if err != nil {
		return err
	}
	for _, r := range rules {
		line := []string{r.Ptype, r.V0, r.V1, r.V2}
		if err := persist.LoadPolicyArray(line, m); err != nil {
			return err
		}
	}
	return nil
}

var errReadOnly = errors.New("authz: rules change through authz.Service")

func (a *adapter) SavePolicy(model.Model) error                              { return errReadOnly }
func (a *adapter) AddPolicy(string, string, []string) error                  { return errReadOnly }
func (a *adapter) RemovePolicy(string, string, []string) error               { return errReadOnly }
func (a *adapter) RemoveFilteredPolicy(string, string, int, ...string) error { return errReadOnly }

func isPlatform(role, perm string) bool {
	return role == RolePlatformAdmin || strings.HasPrefix(perm, "platform.") || perm == "*"
}

// insertRule adds a rule unless it is there already.
func insertRule(ctx context.Context, sc *db.Scope, ptype string, v ...string) error {
	r := &Rule{TenantID: sc.TenantID, ID: uuid.Must(uuid.NewV7()).String(), Ptype: ptype}
	r.V0, r.V1, r.V2 = v[0], v[1], v[2]
	_, err := sc.Insert(r).On("CONFLICT (tenant_id, ptype, v0, v1, v2, v3, v4, v5) DO NOTHING").Exec(ctx)
	return err
}

// InstallGrants installs grants in a tenant (idempotent). Platform rights are refused.
func (s *Service) InstallGrants(ctx context.Context, sc *db.Scope, grants []Grant) error {
	for _, g := range grants {
		if isPlatform(g.Role, g.Permission) {
			return ErrPlatformRight
		}
		if err := insertRule(ctx, sc, "p", g.Role, sc.TenantID, g.Permission); err != nil {
			return fmt.Errorf("install grant %s→%s: %w", g.Role, g.Permission, err)
		}
	}
	return nil
}

// InstallPlatformRules makes sure the platform admin role holds every permission everywhere.
func (s *Service) InstallPlatformRules(ctx context.Context) error {
	return s.DB.InPlatform(ctx, func(ctx context.Context, sc *db.Scope) error {
		return insertRule(ctx, sc, "p", RolePlatformAdmin, db.PlatformDomain, "*")
	})
}

// MakePlatformAdmin grants the platform admin role to a user of the console. Only the CLI
// and the demo seeding call it; no route does.
func (s *Service) MakePlatformAdmin(ctx context.Context, userID string) error {
	return s.DB.InPlatform(ctx, func(ctx context.Context, sc *db.Scope) error {
		return insertRule(ctx, sc, "g", Subject(userID), RolePlatformAdmin, db.PlatformDomain)
	})
}

// AssignRole gives a user a role in the scope's tenant. The platform admin role is refused;
// the role must be one the tenant knows (it has at least one grant).
func (s *Service) AssignRole(ctx context.Context, sc *db.Scope, userID, role string) error {
	if isPlatform(role, "") {
		return ErrPlatformRight
	}
	if err := s.knownRole(ctx, sc, role); err != nil {
		return err
	}
	return insertRule(ctx, sc, "g", Subject(userID), role, sc.TenantID)
}

// RevokeRole removes a role from a user in the scope's tenant.
func (s *Service) RevokeRole(ctx context.Context, sc *db.Scope, userID, role string) error {
	_, err := sc.Delete((*Rule)(nil)).Where("ptype = 'g' AND v0 = ? AND v1 = ?", Subject(userID), role).Exec(ctx)
	return err
}

// RevokeAll removes every rule naming the user in the scope's tenant (account deletion).
func (s *Service) RevokeAll(ctx context.Context, sc *db.Scope, userID string) error {
	_, err := sc.Delete((*Rule)(nil)).Where("ptype = 'g' AND v0 = ?", Subject(userID)).Exec(ctx)
	return err
}

// UserRoles lists the roles a user holds in the scope's tenant (platform roles included).
func (s *Service) UserRoles(ctx context.Context, sc *db.Scope, userID string) ([]string, error) {
	var roles []string
	err := sc.Tx.NewSelect().Model((*Rule)(nil)).Column("v1").
		Where("tenant_id IN (?, ?) AND ptype = 'g' AND v0 = ?", sc.TenantID, db.PlatformDomain, Subject(userID)).
		Order("v1").Scan(ctx, &roles)
	return roles, err
}

// Roles lists the roles a user holds in a tenant (the platform's included), from the
// tenant's rules in memory (the enforcer Allowed uses, reloaded when rev moves).
func (s *Service) Roles(ctx context.Context, tenantID string, rev int64, userID string) ([]string, error) {
	te, err := s.enforcer(ctx, tenantID, rev)
	if err != nil {
		return nil, err
	}
	te.mu.Lock()
	roles, ok := te.roles[userID]
	te.mu.Unlock()
	if ok {
		return roles, nil
	}
	e := te.e
	seen := map[string]bool{}
	var out []string
	for _, dom := range []string{tenantID, db.PlatformDomain} {
		roles, err := e.GetRolesForUser(Subject(userID), dom)
		if err != nil {
			return nil, err
		}
		for _, r := range roles {
			if !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
		}
	}
	sort.Strings(out)
	te.mu.Lock()
	if te.roles == nil || len(te.roles) >= maxDecisions {
		te.roles = map[string][]string{}
	}
	te.roles[userID] = out
	te.mu.Unlock()
	return out, nil
}

// TenantRoles lists the roles that have a grant in the scope's tenant, sorted.
func (s *Service) TenantRoles(ctx context.Context, sc *db.Scope) ([]string, error) {
	var roles []string
	err := sc.Select((*Rule)(nil)).ColumnExpr("DISTINCT v0").Where("ptype = 'p'").Order("v0").Scan(ctx, &roles)
	return roles, err
}

// RoleMembers maps each user id of the scope's tenant to its roles there.
func (s *Service) RoleMembers(ctx context.Context, sc *db.Scope) (map[string][]string, error) {
	var rules []Rule
	if err := sc.Select(&rules).Where("ptype = 'g'").Order("v0", "v1").Scan(ctx); err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, r := range rules {
		out[strings.TrimPrefix(r.V0, "u:")] = append(out[strings.TrimPrefix(r.V0, "u:")], r.V1)
	}
	return out, nil
}

// ErrLockout refuses a change that would leave the tenant admins unable to manage grants.
var ErrLockout = errors.New("authz: tenant admins must keep the right to manage roles")

// Grants maps each role of the scope's tenant to the permissions granted to it there.
func (s *Service) Grants(ctx context.Context, sc *db.Scope) (map[string]map[string]bool, error) {
	var rules []Rule
	if err := sc.Select(&rules).Where("ptype = 'p'").Scan(ctx); err != nil {
		return nil, err
	}
	out := map[string]map[string]bool{}
	for _, r := range rules {
		if out[r.V0] == nil {
			out[r.V0] = map[string]bool{}
		}
		out[r.V0][r.V2] = true
	}
	return out, nil
}

// SetGrant grants (on) or withdraws a permission from a role in the scope's tenant. Platform
// rights and unknown roles are refused, and so is withdrawing the tenant admins' own right
// to manage roles.
func (s *Service) SetGrant(ctx context.Context, sc *db.Scope, role, perm string, on bool) error {
	if isPlatform(role, perm) {
		return ErrPlatformRight
	}
	if err := s.knownRole(ctx, sc, role); err != nil {
		return err
	}
	if on {
		return insertRule(ctx, sc, "p", role, sc.TenantID, perm)
	}
	if role == RoleTenantAdmin && perm == PermAdminRoles {
		return ErrLockout
	}
	_, err := sc.Delete((*Rule)(nil)).Where("ptype = 'p' AND v0 = ? AND v2 = ?", role, perm).Exec(ctx)
	return err
}

// SplitRole moves everything of role old in the scope's tenant to the roles to names: each
// grant of a permission to the roles to(permission) gives it, each holder of old holds all
// of them; old is gone afterwards. It moves a module role named before modules had roles of
// their own ("lab_staff") to the module's ("results.lab_staff"), keeping every assignment and
// every grant a tenant admin made. A role nobody holds and nothing grants changes nothing.
func (s *Service) SplitRole(ctx context.Context, sc *db.Scope, old string, to func(perm string) []string) error {
	if old == "" || isPlatform(old, "") || old == RoleTenantAdmin || old == RoleUser {
		return nil
	}
	var rules []Rule
	if err := sc.Select(&rules).Where("(ptype = 'p' AND v0 = ?) OR (ptype = 'g' AND v1 = ?)", old, old).Scan(ctx); err != nil {
		return err
	}
	if len(rules) == 0 {
		return nil
	}
	all := map[string]bool{}
	for _, r := range rules {
		if r.Ptype == "p" {
			for _, n := range to(r.V2) {
				all[n] = true
				if err := insertRule(ctx, sc, "p", n, sc.TenantID, r.V2); err != nil {
					return err
				}
			}
		}
	}
	if len(all) == 0 {
		for _, n := range to("") {
			all[n] = true
		}
	}
	for _, r := range rules {
		if r.Ptype == "g" {
			for n := range all {
				if err := insertRule(ctx, sc, "g", r.V0, n, sc.TenantID); err != nil {
					return err
				}
			}
		}
	}
	_, err := sc.Delete((*Rule)(nil)).Where("(ptype = 'p' AND v0 = ?) OR (ptype = 'g' AND v1 = ?)", old, old).Exec(ctx)
	return err
}

// knownRole refuses a role that has no grant in the scope's tenant.
func (s *Service) knownRole(ctx context.Context, sc *db.Scope, role string) error {
	roles, err := s.TenantRoles(ctx, sc)
	if err != nil {
		return err
	}
	if i := sort.SearchStrings(roles, role); i >= len(roles) || roles[i] != role {
		return ErrUnknownRole
	}
	return nil
}

// reach is what a user can do in a tenant, for deciding whose account he may act on.
type reach struct {
	platform bool            // a platform admin: every right everywhere
	tenant   bool            // holds the right to manage grants: every right of the tenant in effect
	perms    map[string]bool // the permissions his roles are granted in the tenant
}

// reachOf reads the user's roles in the scope's tenant, leaving out except, and the
// permissions those roles are granted there (grants maps a role to them).
func (s *Service) reachOf(ctx context.Context, sc *db.Scope, userID, except string, grants map[string]map[string]bool) (reach, error) {
	roles, err := s.UserRoles(ctx, sc, userID)
	if err != nil {
		return reach{}, err
	}
	r := reach{perms: map[string]bool{}}
	for _, role := range roles {
		if role == except {
			continue
		}
		if role == RolePlatformAdmin {
			r.platform = true
		}
		for p := range grants[role] {
			r.perms[p] = true
		}
	}
	// Whoever may change grants may give himself any permission of the tenant (never a
	// platform one): he holds them all in effect.
	r.tenant = r.perms[PermAdminRoles]
	return r, nil
}

// MayActOn reports whether actorID may act on targetID's account in the scope's tenant —
// block or unblock it, change its roles, check its secret answer, or anything else done to
// another person's account (P3). The rule: every permission the target holds in the tenant,
// the actor holds too. A platform admin acts on anyone and only a platform admin acts on
// one; whoever may manage grants holds every permission of the tenant in effect. except
// names a role left out of the target's (the role a module gives or takes away, which the
// module's own permission governs); "" leaves out none. Acting on one's own account passes
// the rule: the pages refuse what would lock a person out of his own account.
func (s *Service) MayActOn(ctx context.Context, sc *db.Scope, actorID, targetID, except string) (bool, error) {
	if actorID == "" || targetID == "" {
		return false, nil
	}
	grants, err := s.Grants(ctx, sc)
	if err != nil {
		return false, err
	}
	actor, err := s.reachOf(ctx, sc, actorID, "", grants)
	if err != nil {
		return false, err
	}
	target, err := s.reachOf(ctx, sc, targetID, except, grants)
	if err != nil {
		return false, err
	}
	switch {
	case actor.platform:
		return true, nil
	case target.platform:
		return false, nil
	case actor.tenant:
		return true, nil
	case target.tenant:
		return false, nil
	}
	for p := range target.perms {
		if !actor.perms[p] {
			return false, nil
		}
	}
	return true, nil
}

package results

import (
	"context"
	"regexp"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// proNumberRe is a professional register number: digits, 9 to 11 (RPPS in France has 11,
// ADELI 9; other countries' registers fit in that shape as well).
var proNumberRe = regexp.MustCompile(`^[0-9]{5,14}$`)

// Portal of the partner professionals (R1); every other portal is the patients'.
const portalPros = "professionals"

// onVerified takes a newly active account in: a professional waits for the lab to check
// him; a patient is matched to the lab's records (R3).
func (m *Module) onVerified(ctx context.Context, t sdk.Tenant, userID string) error {
	u, err := sdk.HostFrom(ctx).User(ctx, userID)
	if err != nil {
		return err
	}
	now := m.now()
	if u.Portal == portalPros {
		p := &Professional{TenantID: t.ID, UserID: u.ID, Name: u.Name, DeclaredNumber: strings.TrimSpace(u.Profile[fieldProNumber]),
			Status: proPending, CreatedAt: now}
		return m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Insert(p).On("CONFLICT (tenant_id, user_id) DO NOTHING").Exec(ctx)
			return err
		})
	}
	a := &Account{TenantID: t.ID, UserID: u.ID, State: stateNoRecord, Name: u.Name, BirthName: u.Profile[fieldBirthName],
		BirthDate: u.BirthDate, MatchKey: matchKey(u.Name, u.Profile[fieldBirthName], u.BirthDate), CreatedAt: now, UpdatedAt: now}
	err = m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		if _, err := sc.Insert(a).On("CONFLICT (tenant_id, user_id) DO NOTHING").Exec(ctx); err != nil {
			return err
		}
		a, err = account(ctx, sc, u.ID)
		return err
	})
	if err != nil {
		return err
	}
	_, err = m.matchAccount(ctx, t, a)
	return err
}

// matchAccount links an account when exactly one lab record carries its identity and no
// other account holds that record; otherwise the account waits in the staff queue, as
// "no record" or "ambiguous".
func (m *Module) matchAccount(ctx context.Context, t sdk.Tenant, a *Account) (bool, error) {
	var cands []LabPatient
	if err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&cands).Where("lp.match_key = ?", a.MatchKey).Scan(ctx)
	}); err != nil {
		return false, err
	}
	for _, c := range cands {
		if c.UserID == a.UserID {
			return true, m.setState(ctx, t, a.UserID, stateLinked)
		}
	}
	switch {
	case len(cands) == 0:
		return false, m.setState(ctx, t, a.UserID, stateNoRecord)
	case len(cands) == 1 && cands[0].UserID == "":
		ok, err := m.link(ctx, t, &cands[0], a.UserID, "match")
		if err != nil || !ok {
			return false, err
		}
		return true, m.notifyNew(ctx, t, a.UserID)
	}
	return false, m.setState(ctx, t, a.UserID, stateAmbiguous)
}

// matchRecord tries the accounts waiting in the queue with the identity of a new lab record.
func (m *Module) matchRecord(ctx context.Context, t sdk.Tenant, p *LabPatient) (bool, error) {
	var waiting []Account
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&waiting).Where("ac.match_key = ? AND ac.state <> ?", p.MatchKey, stateLinked).Scan(ctx)
	})
	if err != nil || len(waiting) != 1 {
		return false, err
	}
	ok, err := m.matchAccount(ctx, t, &waiting[0])
	if ok {
		p.UserID = waiting[0].UserID
	}
	return ok, err
}

// link gives a lab record to an account. The update is guarded (the record must still be
// free), so two links racing for one record cannot both win.
func (m *Module) link(ctx context.Context, t sdk.Tenant, p *LabPatient, userID, by string) (bool, error) {
	now := m.now()
	won := false
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		res, err := sc.Update((*LabPatient)(nil)).Set("user_id = ?", userID).Set("linked_at = ?", now).Set("linked_by = ?", by).
			Where("lp.id = ? AND lp.user_id = ''", p.ID).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		won = true
		return setState(ctx, sc, userID, stateLinked, now)
	})
	if err != nil || !won {
		return false, err
	}
	p.UserID = userID
	return true, sdk.HostFrom(ctx).Record(ctx, sdk.AuditRecord{Action: "results.linked", Subject: userID,
		Resource: "patient:" + p.LabPatientID, Detail: map[string]any{"by": by}})
}

// unlink takes a lab record away from its account (staff correcting a wrong link).
func (m *Module) unlink(ctx context.Context, t sdk.Tenant, p *LabPatient) error {
	userID := p.UserID
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Update((*LabPatient)(nil)).Set("user_id = ''").Set("linked_at = NULL").Set("linked_by = ''").
			Where("lp.id = ?", p.ID).Exec(ctx)
		if err != nil || userID == "" {
			return err
		}
		left, err := patientIDsOf(ctx, sc, userID)
		if err != nil || len(left) > 0 {
			return err
		}
		return setState(ctx, sc, userID, stateNoRecord, m.now())
	})
	if err != nil || userID == "" {
		return err
	}
	return sdk.HostFrom(ctx).Record(ctx, sdk.AuditRecord{Action: "results.unlinked", Subject: userID, Resource: "patient:" + p.LabPatientID})
}

func (m *Module) setState(ctx context.Context, t sdk.Tenant, userID, state string) error {
	return m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error { return setState(ctx, sc, userID, state, m.now()) })
}

func setState(ctx context.Context, sc *store.Scope, userID, state string, now time.Time) error {
	_, err := sc.Update((*Account)(nil)).Set("state = ?", state).Set("updated_at = ?", now).Where("ac.user_id = ?", userID).Exec(ctx)
	return err
}

// notifyNew tells a patient that new results wait for him (R10): an e-mail with no health
// data, only a link to sign in, for the reports not announced yet.
func (m *Module) notifyNew(ctx context.Context, t sdk.Tenant, userID string) error {
	var n int64
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		ids, err := patientIDsOf(ctx, sc, userID)
		if err != nil || len(ids) == 0 {
			return err
		}
		res, err := sc.Update((*Report)(nil)).Set("notified_at = ?", m.now()).
			Where("rp.patient_id IN (?) AND rp.notified_at IS NULL", bun.In(ids)).Exec(ctx)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	})
	if err != nil || n == 0 || !notifyNew.Of(t) {
		return err
	}
	msg := sdk.Message{UserID: userID, Template: "results.published", Link: "/login?next=/results/mine", Data: map[string]any{"Count": n}}
	if _, err = sdk.HostFrom(ctx).Send(ctx, msg); err != nil {
		return err
	}
	// And by SMS, to the mobile number the patient gave, where the tenant sends SMS (the
	// host sends none otherwise): the same words, no health data (R10, P7).
	msg.Channel = "sms"
	_, err = sdk.HostFrom(ctx).Send(ctx, msg)
	return err
}

// forget erases what the module holds of a deleted account (R7, P11): its links to lab
// records (the records and reports stay the lab's, for the prescribers, and are no longer
// reachable by anyone through that account), its identity copy and its professional file.
func (m *Module) forget(ctx context.Context, t sdk.Tenant, userID string) error {
	return m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		if _, err := sc.Update((*LabPatient)(nil)).Set("user_id = ''").Set("linked_at = NULL").Set("linked_by = ''").
			Where("lp.user_id = ?", userID).Exec(ctx); err != nil {
			return err
		}
		if _, err := sc.Delete((*Account)(nil)).Where("ac.user_id = ?", userID).Exec(ctx); err != nil {
			return err
		}
		_, err := sc.Delete((*Professional)(nil)).Where("pr.user_id = ?", userID).Exec(ctx)
		return err
	})
}

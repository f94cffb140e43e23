package results

import (
	"context"
	"errors"
	"regexp"
	"sort"
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

// matchAccount links an account when exactly one lab record carries its identity, no other
// account holds that record and no other account carries the same identity; otherwise the account waits in the staff queue, as
// "no record" or "ambiguous". Records merged into another, or taken away from an account by
// staff, are not matched automatically.
func (m *Module) matchAccount(ctx context.Context, t sdk.Tenant, a *Account) (bool, error) {
	var cands []LabPatient
	var holders int64
	if err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) (err error) {
		if err = sc.Select(&cands).Where("lp.match_key = ? AND lp.merged_into = ''", a.MatchKey).Scan(ctx); err != nil {
			return err
		}
		// Another account with the same identity: the record is not given to either.
		holders, err = sc.Select((*Account)(nil)).Where("ac.match_key = ?", a.MatchKey).Count(ctx)
		return err
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
	case len(cands) == 1 && cands[0].UserID == "" && cands[0].UnlinkedBy == "" && holders == 1:
		ok, err := m.link(ctx, t, &cands[0], a.UserID, byMatch)
		if err != nil || !ok {
			return false, err
		}
		return true, m.notifyNew(ctx, t, a.UserID)
	}
	return false, m.setState(ctx, t, a.UserID, stateAmbiguous)
}

// byMatch is the "by" of a link the identity match made (staff links carry "staff:<id>").
const byMatch = "match"

// matchRecord links a lab record that has no account to the one account carrying its
// identity, whether that account is linked to other records already or waits in the queue
// (R3, issue 12.1): a report never waits silently for a patient who has an account. No
// account, or several, and the record stays in the staff queue of records.
func (m *Module) matchRecord(ctx context.Context, t sdk.Tenant, p *LabPatient) (bool, error) {
	if p.UserID != "" || p.MergedInto != "" || p.UnlinkedBy != "" {
		return p.UserID != "", nil
	}
	var accs []Account
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&accs).Where("ac.match_key = ?", p.MatchKey).Limit(2).Scan(ctx)
	})
	if err != nil || len(accs) != 1 {
		return false, err
	}
	return m.link(ctx, t, p, accs[0].UserID, byMatch)
}

// link gives a lab record to an account. The update is guarded (the record must still be
// free and not merged; the automatic match also leaves alone a record staff took away from
// an account), so two links racing for one record cannot both win.
func (m *Module) link(ctx context.Context, t sdk.Tenant, p *LabPatient, userID, by string) (bool, error) {
	now := m.now()
	won := false
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		q := sc.Update((*LabPatient)(nil)).Set("user_id = ?", userID).Set("linked_at = ?", now).Set("linked_by = ?", by).
			Set("unlinked_by = ''").Where("lp.id = ? AND lp.user_id = '' AND lp.merged_into = ''", p.ID)
		if by == byMatch {
			q = q.Where("lp.unlinked_by = ''")
		}
		res, err := q.Exec(ctx)
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
	p.UserID, p.UnlinkedBy = userID, ""
	return true, sdk.HostFrom(ctx).Record(ctx, sdk.AuditRecord{Action: "results.linked", Subject: userID,
		Resource: "patient:" + p.LabPatientID, Detail: map[string]any{"by": by}})
}

// unlink takes a lab record away from its account (staff correcting a wrong link); the
// automatic match leaves the record alone from then on.
func (m *Module) unlink(ctx context.Context, t sdk.Tenant, p *LabPatient, by string) error {
	userID := p.UserID
	err := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Update((*LabPatient)(nil)).Set("user_id = ''").Set("linked_at = NULL").Set("linked_by = ''").
			Set("unlinked_by = ?", by).Where("lp.id = ?", p.ID).Exec(ctx)
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
	return sdk.HostFrom(ctx).Record(ctx, sdk.AuditRecord{Action: "results.unlinked", Subject: userID, Resource: "patient:" + p.LabPatientID,
		Detail: map[string]any{"by": by}})
}

// Why a merge was refused.
var (
	errMergeSelf     = errors.New("a record cannot be merged into itself")
	errMergeGone     = errors.New("a record was merged meanwhile")
	errMergeAccounts = errors.New("the records belong to two accounts")
)

// merge moves the lab record from into the record into: one person the LIS holds twice
// (R3, issue 12.1). Its reports move, later reports under its lab id go to into, and into
// keeps the account either of them had. Both rows are taken in the order of their ids
// with a guarded update before anything changes, so that two merges racing over the same
// records (even crosswise) never both win and never leave a cycle.
func (m *Module) merge(ctx context.Context, t sdk.Tenant, from, into *LabPatient, by string) (moved int64, err error) {
	if from.ID == into.ID {
		return 0, errMergeSelf
	}
	now := m.now()
	var user string
	err = m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		ids := []string{from.ID, into.ID}
		sort.Strings(ids)
		for _, id := range ids {
			res, err := sc.Update((*LabPatient)(nil)).Set("merged_into = ''").Where("lp.id = ? AND lp.merged_into = ''", id).Exec(ctx)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return errMergeGone
			}
		}
		f, err := labPatient(ctx, sc, from.ID)
		if err != nil {
			return err
		}
		i, err := labPatient(ctx, sc, into.ID)
		if err != nil {
			return err
		}
		if f.UserID != "" && i.UserID != "" && f.UserID != i.UserID {
			return errMergeAccounts
		}
		user = i.UserID
		res, err := sc.Update((*Report)(nil)).Set("patient_id = ?", i.ID).Where("rp.patient_id = ?", f.ID).Exec(ctx)
		if err != nil {
			return err
		}
		moved, _ = res.RowsAffected()
		if _, err := sc.Update((*LabPatient)(nil)).Set("merged_into = ?", i.ID).Where("lp.merged_into = ?", f.ID).Exec(ctx); err != nil {
			return err
		}
		if _, err := sc.Update((*LabPatient)(nil)).Set("merged_into = ?", i.ID).Set("user_id = ''").Set("linked_at = NULL").
			Set("linked_by = ''").Where("lp.id = ?", f.ID).Exec(ctx); err != nil {
			return err
		}
		if i.UserID == "" && f.UserID != "" {
			user = f.UserID
			_, err = sc.Update((*LabPatient)(nil)).Set("user_id = ?", user).Set("linked_at = ?", now).Set("linked_by = ?", by).
				Set("unlinked_by = ''").Where("lp.id = ?", i.ID).Exec(ctx)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	subject := "labpatient:" + into.ID
	if user != "" {
		subject = user
	}
	return moved, sdk.HostFrom(ctx).Record(ctx, sdk.AuditRecord{Action: "results.merged", Subject: subject,
		Resource: "patient:" + from.LabPatientID, Detail: map[string]any{"into": into.LabPatientID, "by": by, "reports": moved}})
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

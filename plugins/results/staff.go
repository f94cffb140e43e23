package results

import (
	"context"
	"errors"
	"strings"

	"github.com/uptrace/bun"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// errKey is the message id of an error code of the module ("required").
func errKey(code string) string { return "results.err." + code }

// staffHome is the lab staff's desk: the queue, the professionals to check, the upload form
// and the patient search.
func (m *Module) staffHome(c *kit.Ctx) error {
	v := c.View("results.staff.title")
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		queue, err := sc.Select((*Account)(nil)).Where("ac.state <> ?", stateLinked).Count(ctx)
		if err != nil {
			return err
		}
		records, err := waitingRecords(sc).Count(ctx)
		if err != nil {
			return err
		}
		pending, err := sc.Select((*Professional)(nil)).Where("pr.status = ?", proPending).Count(ctx)
		v.Data["Queue"], v.Data["Records"], v.Data["Pending"] = queue, records, pending
		return err
	})
	if err != nil {
		return err
	}
	return c.Render(200, "staff", v)
}

// Person is an account holder as staff see him to check who he is on the phone (R3, issue
// 12.3): his identity, e-mail, mobile number and secret question (never its answer).
type Person struct {
	Account
	Email, Mobile, Question string
}

// personOf completes a with what the core knows of the person.
func personOf(ctx context.Context, h *sdk.Host, a Account) Person {
	p := Person{Account: a}
	if u, err := h.User(ctx, a.UserID); err == nil {
		p.Email, p.Mobile, p.Question = u.Email, u.Profile[fieldMobile], u.SecretQuestion
	}
	return p
}

type queueItem struct {
	Person
	Candidates []LabPatient
	Check      string // result of a secret-answer check just made: "match", "mismatch", "none"
}

// recordItem is a lab record waiting for an account, and why (R3, issue 12.1).
type recordItem struct {
	LabPatient
	Reason string // "no_account", "several_accounts", "held" (staff took it away from an account), "to_check"
}

// waitingRecords selects the lab records no account holds (merged ones are part of another).
func waitingRecords(sc *store.Scope) *bun.SelectQuery {
	return sc.Select((*LabPatient)(nil)).Where("lp.user_id = '' AND lp.merged_into = ''").
		Where("EXISTS (SELECT 1 FROM results_reports AS r WHERE r.tenant_id = lp.tenant_id AND r.patient_id = lp.id)")
}

// queue lists the accounts no lab record matched, or several did, each with the lab records
// of people born the same day and what staff need to check who the person is; then the lab
// records with reports that no account holds: no account matched them, or several did
// (R3). Staff decide after checking the identity (secret question).
func (m *Module) queue(c *kit.Ctx) error { return m.renderQueue(c, 200, "", "", "") }

func (m *Module) renderQueue(c *kit.Ctx, status int, checked, result, linkErr string) error {
	var accs []Account
	var cands, recs []LabPatient
	var keys []Account
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		if err := waitingRecords(sc).Model(&recs).Order("lp.created_at DESC").Limit(200).Scan(ctx); err != nil {
			return err
		}
		if len(recs) > 0 {
			ks := make([]string, len(recs))
			for i, r := range recs {
				ks[i] = r.MatchKey
			}
			if err := sc.Select(&keys).Column("user_id", "match_key").Where("ac.match_key IN (?)", bun.In(ks)).Scan(ctx); err != nil {
				return err
			}
		}
		if err := sc.Select(&accs).Where("ac.state <> ?", stateLinked).Order("ac.created_at").Limit(200).Scan(ctx); err != nil {
			return err
		}
		if len(accs) == 0 {
			return nil
		}
		// The candidates of every waiting account in one query: the records born the same day.
		days := make([]string, len(accs))
		for i, a := range accs {
			days[i] = a.BirthDate
		}
		return sc.Select(&cands).Where("lp.birth_date IN (?) AND lp.merged_into = ''", bun.In(days)).
			Order("lp.last_name", "lp.first_name").Limit(2000).Scan(ctx)
	})
	if err != nil {
		return err
	}
	items := make([]queueItem, len(accs))
	for i, a := range accs {
		items[i].Person = personOf(c.Context(), c.Host(), a)
		for _, x := range cands {
			if x.BirthDate == a.BirthDate && len(items[i].Candidates) < 20 {
				items[i].Candidates = append(items[i].Candidates, x)
			}
		}
		if a.UserID == checked {
			items[i].Check = result
		}
	}
	holders := map[string]int{}
	for _, k := range keys {
		holders[k.MatchKey]++
	}
	records := make([]recordItem, len(recs))
	for i, r := range recs {
		records[i] = recordItem{LabPatient: r, Reason: recordReason(r, holders[r.MatchKey])}
	}
	v := c.View("results.queue.title")
	v.Data["Items"], v.Data["Records"] = items, records
	if linkErr != "" {
		v.Errors["lab_patient_id"] = errKey(linkErr)
		v.Values["user"] = checked
	}
	return c.Render(status, "queue", v)
}

// recordReason is why a record waits, given how many accounts carry its identity.
func recordReason(r LabPatient, accounts int) string {
	switch {
	case r.UnlinkedBy != "":
		return "held"
	case accounts == 0:
		return "no_account"
	case accounts > 1:
		return "several_accounts"
	}
	return "to_check"
}

// pathAccount is the waiting account the path names.
func (m *Module) pathAccount(c *kit.Ctx) (a *Account, err error) {
	err = c.Read(func(ctx context.Context, sc *store.Scope) error {
		a, err = account(ctx, sc, c.Param("id"))
		return err
	})
	return a, err
}

// checkSecret checks the answer a caller gives to his secret question (P2, R2): the core
// compares it with the stored hash and records the check, as failed when it does not match.
func (m *Module) checkSecret(c *kit.Ctx) error {
	a, err := m.pathAccount(c)
	if err != nil {
		return err
	}
	match, has, err := c.Host().CheckSecret(c.Context(), a.UserID, c.Form("answer"))
	if err != nil {
		return err
	}
	result := "mismatch"
	switch {
	case !has:
		result = "none"
	case match:
		result = "match"
	}
	return m.renderQueue(c, 200, a.UserID, result, "")
}

// linkFromQueue links an account to the lab record staff chose (by the lab's patient id).
func (m *Module) linkFromQueue(c *kit.Ctx) error {
	a, err := m.pathAccount(c)
	if err != nil {
		return err
	}
	labID := strings.TrimSpace(c.Form("lab_patient_id"))
	p := &LabPatient{}
	err = c.Read(func(ctx context.Context, sc *store.Scope) error {
		return notFound(sc.Select(p).Where("lp.lab_patient_id = ?", labID).Scan(ctx))
	})
	if errors.Is(err, kit.ErrNotFound) {
		return m.renderQueue(c, 422, a.UserID, "", "unknown_patient")
	}
	if err != nil {
		return err
	}
	linked, err := m.link(c.Context(), c.Tenant(), p, a.UserID, "staff:"+c.User().ID)
	if err != nil {
		return err
	}
	if !linked {
		code := "already_linked"
		if p.MergedInto != "" {
			code = "merged"
		}
		return m.renderQueue(c, 409, a.UserID, "", code)
	}
	if err := m.notifyNew(c.Context(), c.Tenant(), a.UserID); err != nil {
		return err
	}
	return c.Redirect("/results/staff/queue", "linked")
}

// patients searches the lab records by name, lab id or date of birth.
func (m *Module) patients(c *kit.Ctx) error {
	q := strings.TrimSpace(c.Query("q"))
	v := c.View("results.patients.title")
	v.Values["q"] = q
	if q != "" {
		var ps []LabPatient
		like := "%" + strings.ReplaceAll(fold(q), "%", "") + "%"
		err := c.Read(func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&ps).Where("(lp.lab_patient_id = ? OR lp.birth_date = ? OR lp.match_key LIKE ?)", q, q, like).
				Order("lp.last_name", "lp.first_name").Limit(100).Scan(ctx)
		})
		if err != nil {
			return err
		}
		v.Data["Patients"] = ps
	}
	return c.Render(200, "patients", v)
}

// patientFile shows a lab record: identity, linked account, reports; for a record without
// account, the accounts it may be attached to (the same birth date or the same family
// name), each with what staff need to check the person's identity; and the other records
// it may be merged with (the same birth date) (R3, issue 12.1).
func (m *Module) patientFile(c *kit.Ctx) error { return m.renderPatient(c, 200, "") }

func (m *Module) renderPatient(c *kit.Ctx, status int, errCode string) error {
	var p *LabPatient
	var reps []Report
	var accs []Account
	var others []LabPatient
	var into *LabPatient
	err := c.Read(func(ctx context.Context, sc *store.Scope) (err error) {
		if p, err = labPatient(ctx, sc, c.Param("id")); err != nil {
			return err
		}
		if p.MergedInto != "" {
			if into, err = labPatient(ctx, sc, p.MergedInto); err != nil && !errors.Is(err, kit.ErrNotFound) {
				return err
			}
			return nil
		}
		if reps, err = reportsWhere(ctx, sc, 1000, "rp.patient_id = ?", p.ID); err != nil {
			return err
		}
		if p.UserID == "" {
			family := "%" + strings.ReplaceAll(fold(p.LastName), "%", "") + "%"
			if err := sc.Select(&accs).Where("(ac.birth_date = ? OR ac.match_key = ? OR ac.match_key LIKE ?)", p.BirthDate, p.MatchKey, family).
				Order("ac.name").Limit(20).Scan(ctx); err != nil {
				return err
			}
		}
		return sc.Select(&others).Where("lp.birth_date = ? AND lp.id <> ? AND lp.merged_into = ''", p.BirthDate, p.ID).
			Order("lp.last_name", "lp.first_name").Limit(20).Scan(ctx)
	})
	if err != nil {
		return err
	}
	v := c.View("results.patient.title")
	v.Data["Patient"], v.Data["Rows"], v.Data["Others"], v.Data["Into"] = p, m.rows(c.Tenant(), reps), others, into
	if p.UserID != "" {
		if u, err := c.Host().User(c.Context(), p.UserID); err == nil {
			v.Data["Account"] = u
		}
	}
	// An account staff look for by the person's e-mail (the identity may differ more than a
	// birth date or a family name): shown first, with the rest of his identity.
	if email := strings.TrimSpace(c.Query("email")); email != "" && p.UserID == "" && p.MergedInto == "" {
		v.Values["email"] = email
		found, err := m.accountByEmail(c, email)
		if err != nil {
			return err
		}
		if found == nil {
			v.Errors["email"] = errKey("unknown_account")
		} else {
			accs = append([]Account{*found}, accs...)
		}
	}
	people := make([]Person, 0, len(accs))
	seen := map[string]bool{}
	for _, a := range accs {
		if !seen[a.UserID] {
			seen[a.UserID] = true
			people = append(people, personOf(c.Context(), c.Host(), a))
		}
	}
	v.Data["Candidates"] = people
	if errCode != "" {
		v.Errors["record"] = errKey(errCode)
	}
	return c.Render(status, "patient", v)
}

// accountByEmail is the patient account of the person with that e-mail, or nil.
func (m *Module) accountByEmail(c *kit.Ctx, email string) (*Account, error) {
	u, err := c.Host().UserByEmail(c.Context(), email)
	if err != nil {
		// The host answers "not found" as an error: no such person in the tenant.
		return nil, nil
	}
	var a *Account
	err = c.Read(func(ctx context.Context, sc *store.Scope) (err error) {
		a, err = account(ctx, sc, u.ID)
		return err
	})
	if errors.Is(err, kit.ErrNotFound) {
		return nil, nil
	}
	return a, err
}

// pathPatient is the lab record the path names.
func (m *Module) pathPatient(c *kit.Ctx) (p *LabPatient, err error) {
	err = c.Read(func(ctx context.Context, sc *store.Scope) error {
		p, err = labPatient(ctx, sc, c.Param("id"))
		return err
	})
	return p, err
}

// formRow reads the row of the tenant that a form field names (kit.ErrNotFound when none).
func formRow[T any](c *kit.Ctx, field string, read func(context.Context, *store.Scope, string) (T, error)) (T, error) {
	var out T
	err := c.Read(func(ctx context.Context, sc *store.Scope) (err error) {
		out, err = read(ctx, sc, strings.TrimSpace(c.Form(field)))
		return err
	})
	return out, err
}

func (m *Module) unlinkPatient(c *kit.Ctx) error {
	p, err := m.pathPatient(c)
	if err != nil {
		return err
	}
	if err := m.unlink(c.Context(), c.Tenant(), p, "staff:"+c.User().ID); err != nil {
		return err
	}
	return c.Redirect("/results/staff/patients/"+p.ID, "unlinked")
}

// attachPatient gives the lab record to the account staff chose after checking the
// person's identity (R3, issue 12.1); the patient is told of the results waiting.
func (m *Module) attachPatient(c *kit.Ctx) error {
	p, err := m.pathPatient(c)
	if err != nil {
		return err
	}
	a, err := formRow(c, "user", account)
	if errors.Is(err, kit.ErrNotFound) {
		return m.renderPatient(c, 422, "unknown_account")
	}
	if err != nil {
		return err
	}
	linked, err := m.link(c.Context(), c.Tenant(), p, a.UserID, "staff:"+c.User().ID)
	if err != nil {
		return err
	}
	if !linked {
		return m.renderPatient(c, 409, "already_linked")
	}
	if err := m.notifyNew(c.Context(), c.Tenant(), a.UserID); err != nil {
		return err
	}
	return c.Redirect("/results/staff/patients/"+p.ID, "linked")
}

// mergePatient merges another lab record of the same person into this one: its reports
// move here (R3, issue 12.1).
func (m *Module) mergePatient(c *kit.Ctx) error {
	into, err := m.pathPatient(c)
	if err != nil {
		return err
	}
	from, err := formRow(c, "from", labPatient)
	if errors.Is(err, kit.ErrNotFound) {
		return m.renderPatient(c, 422, "unknown_patient")
	}
	if err != nil {
		return err
	}
	_, err = m.merge(c.Context(), c.Tenant(), from, into, "staff:"+c.User().ID)
	switch {
	case errors.Is(err, errMergeSelf):
		return m.renderPatient(c, 422, "merge_self")
	case errors.Is(err, errMergeGone):
		return m.renderPatient(c, 409, "merged")
	case errors.Is(err, errMergeAccounts):
		return m.renderPatient(c, 409, "merge_accounts")
	case err != nil:
		return err
	}
	// The merged record may now match an account its half did not.
	if into, err = m.pathPatient(c); err != nil {
		return err
	}
	if into.UserID == "" {
		if _, err := m.matchRecord(c.Context(), c.Tenant(), into); err != nil {
			return err
		}
	}
	if into.UserID != "" {
		if err := m.notifyNew(c.Context(), c.Tenant(), into.UserID); err != nil {
			return err
		}
	}
	return c.Redirect("/results/staff/patients/"+into.ID, "merged")
}
func (m *Module) recordImport(ctx context.Context, res *importResult) error {
	return sdk.HostFrom(ctx).Record(ctx, sdk.AuditRecord{Action: "results.imported", Subject: auditSubject(res.Report),
		Resource: "result:" + res.Report.ID, Detail: map[string]any{"report": res.Report.ReportID, "source": res.Report.Source}})
}

// professionals lists the professional accounts: those waiting for the lab's check first.
func (m *Module) professionals(c *kit.Ctx) error { return m.renderPros(c, 200, "", "") }

func (m *Module) renderPros(c *kit.Ctx, status int, userID, errCode string) error {
	var ps []Professional
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&ps).OrderExpr("CASE pr.status WHEN 'pending' THEN 0 WHEN 'active' THEN 1 ELSE 2 END").
			Order("pr.created_at").Limit(500).Scan(ctx)
	})
	if err != nil {
		return err
	}
	v := c.View("results.pros.title")
	v.Data["Pros"] = ps
	if errCode != "" {
		v.Errors["register_number"] = errKey(errCode)
		v.Values["user"] = userID
		v.Values["register_number"] = c.Form("register_number")
	}
	return c.Render(status, "pros", v)
}

// pathPro is the professional file the path names.
func (m *Module) pathPro(c *kit.Ctx) (p *Professional, err error) {
	err = c.Read(func(ctx context.Context, sc *store.Scope) error {
		p, err = professional(ctx, sc, c.Param("id"))
		return err
	})
	return p, err
}

// activate records the register number the lab checked and gives the account the
// professional role (R1): from then on he sees the results he prescribed.
func (m *Module) activate(c *kit.Ctx) error {
	p, err := m.pathPro(c)
	if err != nil {
		return err
	}
	num := strings.TrimSpace(c.Form("register_number"))
	if !proNumberRe.MatchString(num) {
		return m.renderPros(c, 422, p.UserID, "invalid_register_number")
	}
	taken := false
	err = c.In(func(ctx context.Context, sc *store.Scope) error {
		// The unique index holds the number for one professional; asking first gives the
		// Person a sentence rather than a failure.
		n, err := sc.Select((*Professional)(nil)).Where("pr.register_number = ? AND pr.user_id <> ?", num, p.UserID).Count(ctx)
		if err != nil || n > 0 {
			taken = n > 0
			return err
		}
		_, err = sc.Update((*Professional)(nil)).Set("register_number = ?", num).Set("status = ?", proActive).
			Set("decided_by = ?", c.User().ID).Set("decided_at = ?", m.now()).Where("pr.user_id = ?", p.UserID).Exec(ctx)
		return err
	})
	if store.IsUniqueViolation(err) {
		taken, err = true, nil
	}
	if err != nil {
		return err
	}
	if taken {
		return m.renderPros(c, 409, p.UserID, "register_number_taken")
	}
	if err := c.Host().SetRole(c.Context(), p.UserID, roleProfessional, true); err != nil {
		return err
	}
	// He hears that his account is open (R1), in his language, with the way in.
	if _, err := c.Host().Send(c.Context(), sdk.Message{UserID: p.UserID, Template: "results.professional_activated",
		Link: "/login?next=/results/pro", Data: map[string]any{"Number": num}}); err != nil {
		return err
	}
	if err := c.Host().Record(c.Context(), sdk.AuditRecord{Action: "results.professional_activated", Subject: p.UserID,
		Resource: "professional:" + num}); err != nil {
		return err
	}
	return c.Redirect("/results/staff/professionals", "activated")
}

// suspend takes the professional role away (R6: the lab may refuse access to anyone).
func (m *Module) suspend(c *kit.Ctx) error {
	p, err := m.pathPro(c)
	if err != nil {
		return err
	}
	err = c.In(func(ctx context.Context, sc *store.Scope) error {
		_, err := sc.Update((*Professional)(nil)).Set("status = ?", proSuspended).Set("decided_by = ?", c.User().ID).
			Set("decided_at = ?", m.now()).Where("pr.user_id = ?", p.UserID).Exec(ctx)
		return err
	})
	if err != nil {
		return err
	}
	if err := c.Host().SetRole(c.Context(), p.UserID, roleProfessional, false); err != nil {
		return err
	}
	if err := c.Host().Record(c.Context(), sdk.AuditRecord{Action: "results.professional_suspended", Subject: p.UserID,
		Resource: "professional:" + p.RegisterNumber}); err != nil {
		return err
	}
	return c.Redirect("/results/staff/professionals", "suspended")
}

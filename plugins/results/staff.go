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
		pending, err := sc.Select((*Professional)(nil)).Where("pr.status = ?", proPending).Count(ctx)
		v.Data["Queue"], v.Data["Pending"] = queue, pending
		return err
	})
	if err != nil {
		return err
	}
	return c.Render(200, "staff", v)
}

type queueItem struct {
	Account
	Candidates []LabPatient
	Check      string // result of a secret-answer check just made: "match", "mismatch", "none"
}

// queue lists the accounts no lab record matched, or several did (R3), each with the lab
// records of people born the same day, for staff to decide after checking who the person
// is (secret question).
func (m *Module) queue(c *kit.Ctx) error { return m.renderQueue(c, 200, "", "", "") }

func (m *Module) renderQueue(c *kit.Ctx, status int, checked, result, linkErr string) error {
	var accs []Account
	var cands []LabPatient
	err := c.Read(func(ctx context.Context, sc *store.Scope) error {
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
		return sc.Select(&cands).Where("lp.birth_date IN (?)", bun.In(days)).Order("lp.last_name", "lp.first_name").Limit(2000).Scan(ctx)
	})
	if err != nil {
		return err
	}
	items := make([]queueItem, len(accs))
	for i, a := range accs {
		items[i].Account = a
		for _, x := range cands {
			if x.BirthDate == a.BirthDate && len(items[i].Candidates) < 20 {
				items[i].Candidates = append(items[i].Candidates, x)
			}
		}
		if a.UserID == checked {
			items[i].Check = result
		}
	}
	v := c.View("results.queue.title")
	v.Data["Items"] = items
	if linkErr != "" {
		v.Errors["lab_patient_id"] = errKey(linkErr)
		v.Values["user"] = checked
	}
	return c.Render(status, "queue", v)
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
// compares it with the stored hash and records the check.
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
		return m.renderQueue(c, 409, a.UserID, "", "already_linked")
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

// patientFile shows a lab record: identity, linked account, reports.
func (m *Module) patientFile(c *kit.Ctx) error {
	var p *LabPatient
	var reps []Report
	err := c.Read(func(ctx context.Context, sc *store.Scope) (err error) {
		if p, err = labPatient(ctx, sc, c.Param("id")); err != nil {
			return err
		}
		reps, err = reportsWhere(ctx, sc, 1000, "rp.patient_id = ?", p.ID)
		return err
	})
	if err != nil {
		return err
	}
	v := c.View("results.patient.title")
	v.Data["Patient"], v.Data["Rows"] = p, m.rows(c.Tenant(), reps)
	if p.UserID != "" {
		if u, err := c.Host().User(c.Context(), p.UserID); err == nil {
			v.Data["Account"] = u
		}
	}
	return c.Render(200, "patient", v)
}

func (m *Module) unlinkPatient(c *kit.Ctx) error {
	var p *LabPatient
	err := c.Read(func(ctx context.Context, sc *store.Scope) (err error) {
		p, err = labPatient(ctx, sc, c.Param("id"))
		return err
	})
	if err != nil {
		return err
	}
	if err := m.unlink(c.Context(), c.Tenant(), p); err != nil {
		return err
	}
	return c.Redirect("/results/staff/patients/"+p.ID, "unlinked")
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
		// person a sentence rather than a failure.
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

package calendar

import (
	"context"
	"time"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// exportBooking is a booking as the person's export shows it (P11).
type exportBooking struct {
	Doctor    string    `json:"doctor"`
	Facility  string    `json:"facility"`
	Service   string    `json:"service"`
	Starts    time.Time `json:"starts_at"`
	Ends      time.Time `json:"ends_at"`
	Status    string    `json:"status"`
	Patient   string    `json:"patient"`
	PESEL     string    `json:"pesel"`
	Email     string    `json:"email"`
	Mobile    string    `json:"mobile"`
	ForOther  bool      `json:"for_another_person"`
	Terms     string    `json:"terms_version"`
	Consents  string    `json:"consents"`
	CreatedAt time.Time `json:"booked_at"`
}

// export is what the calendar holds of a user (P11): the bookings he is the patient of or
// made for someone, and the directory records his account is (a doctor's, a facility's).
func (m *Module) export(ctx context.Context, t sdk.Tenant, userID string) (map[string]any, error) {
	out := map[string]any{}
	err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		var bs []Booking
		if err := sc.Select(&bs).Where("(bk.user_id = ? OR bk.booked_by = ?)", userID, userID).Order("bk.starts_at").Scan(ctx); err != nil {
			return err
		}
		names := map[string]string{}
		var ds []Doctor
		var fs []Facility
		if err := sc.Select(&ds).Scan(ctx); err != nil {
			return err
		}
		if err := sc.Select(&fs).Scan(ctx); err != nil {
			return err
		}
		var mine []Doctor
		var mineF []Facility
		for _, d := range ds {
			names[d.ID] = d.display()
			if d.UserID == userID {
				mine = append(mine, d)
			}
		}
		for _, f := range fs {
			names[f.ID] = f.Name
			if f.UserID == userID {
				mineF = append(mineF, f)
			}
		}
		list := make([]exportBooking, 0, len(bs))
		for _, b := range bs {
			list = append(list, exportBooking{Doctor: names[b.DoctorID], Facility: names[b.FacilityID], Service: b.ServiceName,
				Starts: b.StartsAt, Ends: b.EndsAt, Status: b.Status, Patient: b.PatientFirstName + " " + b.PatientLastName,
				PESEL: b.PESEL, Email: b.Email, Mobile: b.Mobile, ForOther: b.ForOther, Terms: b.TermsVersion, Consents: b.Consents, CreatedAt: b.CreatedAt})
		}
		out["bookings"] = list
		var apps []Application
		if err := sc.Select(&apps).Where("ap.user_id = ?", userID).Order("ap.created_at").Scan(ctx); err != nil {
			return err
		}
		if len(apps) > 0 {
			out["applications"] = apps
		}
		var reqs []RightsRequest
		if err := sc.Select(&reqs).Where("rr.user_id = ?", userID).Order("rr.created_at").Scan(ctx); err != nil {
			return err
		}
		if len(reqs) > 0 {
			out["data_rights_requests"] = reqs
		}
		if len(mine) > 0 {
			out["doctor_profiles"] = mine
		}
		if len(mineF) > 0 {
			out["facility_profiles"] = mineF
		}
		return nil
	})
	if err == nil {
		err = m.exportWaits(ctx, t, userID, out) // waitlist.go
	}
	return out, err
}

// forget detaches a deleted account from the calendar (C16, P11): the booking data the
// doctor keeps as its controller stays with the doctor, no longer linked to the account;
// the account's upcoming visits are cancelled, freeing their time; a doctor's or a
// facility's directory record is no longer his account's.
func (m *Module) forget(ctx context.Context, t sdk.Tenant, userID string) error {
	if err := m.forgetWaits(ctx, t, userID); err != nil { // waitlist.go
		return err
	}
	if err := m.forgetApplications(ctx, t, userID); err != nil {
		return err
	}
	var upcoming []Booking
	err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		return sc.Select(&upcoming).Column("id").Where("bk.user_id = ?", userID).Where("bk.starts_at > ?", m.now()).
			Where("bk.status IN (?)", bunIn([]string{statusHeld, statusAwaiting, statusConfirmed})).Scan(ctx)
	})
	if err != nil {
		return err
	}
	for _, b := range upcoming {
		if err := m.release(ctx, t, b.ID, statusCancelledPatient, ""); err != nil && err != errNotLive {
			return err
		}
	}
	return m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		if _, err := sc.Update((*Booking)(nil)).Set("user_id = ''").Where("bk.user_id = ?", userID).Exec(ctx); err != nil {
			return err
		}
		if _, err := sc.Update((*Booking)(nil)).Set("booked_by = ''").Where("bk.booked_by = ?", userID).Exec(ctx); err != nil {
			return err
		}
		if _, err := sc.Update((*Doctor)(nil)).Set("user_id = ''").Where("dr.user_id = ?", userID).Exec(ctx); err != nil {
			return err
		}
		// A data-rights request stays with the doctor who must answer it, detached (C16).
		if _, err := sc.Update((*RightsRequest)(nil)).Set("user_id = ''").Where("rr.user_id = ?", userID).Exec(ctx); err != nil {
			return err
		}
		// His agenda feed's secret address goes with his account (feed.go).
		if _, err := sc.Delete((*Feed)(nil)).Where("fd.user_id = ?", userID).Exec(ctx); err != nil {
			return err
		}
		_, err := sc.Update((*Facility)(nil)).Set("user_id = ''").Where("fa.user_id = ?", userID).Exec(ctx)
		return err
	})
}

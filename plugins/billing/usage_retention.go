package billing

import (
	"context"
	"time"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// usageRetentionJob runs every night for each tenant (B2: recordings, messages and agenda
// data are kept billing.recording_retention_months).
func (m *Module) usageRetentionJob(ctx context.Context, job *sdk.Job) error {
	msgs, recs, err := m.expireUsage(ctx, job.Tenant)
	if err != nil {
		return err
	}
	m.Log.Info("billing retention", "tenant", job.Tenant.Slug, "messages_deleted", msgs, "recordings_cleared", recs)
	return nil
}

// expireUsage deletes the messages taken before the retention's start and clears the
// recording references of the calls made before it; the usage rows themselves stay (they
// are the evidence of the invoices). It answers how many of each it removed.
func (m *Module) expireUsage(ctx context.Context, t sdk.Tenant) (messages, recordings int64, err error) {
	cutoff := m.now().AddDate(0, -int(recordingRetentionMonths.Of(t)), 0)
	err = m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		res, err := sc.Delete((*TakenMessage)(nil)).Where("msg.taken_at < ?", cutoff).Exec(ctx)
		if err != nil {
			return err
		}
		if messages, err = res.RowsAffected(); err != nil {
			return err
		}
		res, err = sc.Update((*Usage)(nil)).Set("recording_ref = ''").Where("use.recording_ref <> ''").Where("use.occurred_at < ?", cutoff).Exec(ctx)
		if err != nil {
			return err
		}
		recordings, err = res.RowsAffected()
		return err
	})
	return messages, recordings, err
}

// usageForget (P11): the messages taken for the account's subscriptions are deleted, and the
// references to their call recordings cleared; the usage rows stay with the invoices.
func (m *Module) usageForget(ctx context.Context, t sdk.Tenant, userID string) error {
	return m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		own := sc.Select((*Subscription)(nil)).Column("sub.id").Where("sub.user_id = ?", userID)
		if _, err := sc.Delete((*TakenMessage)(nil)).Where("msg.subscription_id IN (?)", own).Exec(ctx); err != nil {
			return err
		}
		_, err := sc.Update((*Usage)(nil)).Set("recording_ref = ''").Where("use.recording_ref <> ''").Where("use.subscription_id IN (?)", own).Exec(ctx)
		return err
	})
}

// messageExport is a message as the client's data export (P11) lists it.
type messageExport struct {
	TakenAt     time.Time `json:"taken_at"`
	CallerName  string    `json:"caller_name"`
	CallerPhone string    `json:"caller_phone"`
	Text        string    `json:"text"`
	Urgent      bool      `json:"urgent"`
	Forwarded   bool      `json:"forwarded"`
}

// usageExport (P11) lists the messages taken for the account's subscriptions.
func (m *Module) usageExport(ctx context.Context, t sdk.Tenant, userID string) (map[string]any, error) {
	var msgs []TakenMessage
	err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		own := sc.Select((*Subscription)(nil)).Column("sub.id").Where("sub.user_id = ?", userID)
		return sc.Select(&msgs).Where("msg.subscription_id IN (?)", own).OrderExpr("msg.taken_at, msg.event_id").Scan(ctx)
	})
	if err != nil {
		return nil, err
	}
	out := make([]messageExport, len(msgs))
	for i, x := range msgs {
		out[i] = messageExport{TakenAt: x.TakenAt.UTC(), CallerName: x.CallerName, CallerPhone: x.CallerPhone, Text: x.Body, Urgent: x.Urgent, Forwarded: !x.ForwardedAt.IsZero()}
	}
	return map[string]any{"billing_messages": out}, nil
}

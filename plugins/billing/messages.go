package billing

import (
	"context"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"carenet.dev/platform/locales"
	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/sdk"
)

// TakenMessage is a message the secretariat took for a client (B2), as the telephony platform
// sent it; EventID is the platform's id. ForwardedAt is when it was sent on to the client by
// e-mail (the option "message forwarding").
type TakenMessage struct {
	bun.BaseModel `bun:"table:billing_messages,alias:msg"`

	TenantID       string       `bun:"tenant_id,pk"`
	EventID        string       `bun:"event_id,pk"`
	SubscriptionID string       `bun:"subscription_id"`
	TakenAt        time.Time    `bun:"taken_at"`
	CallerName     string       `bun:"caller_name"`
	CallerPhone    string       `bun:"caller_phone"`
	Body           string       `bun:"body"`
	Urgent         bool         `bun:"urgent"`
	ForwardedAt    bun.NullTime `bun:"forwarded_at"`
	ReceivedAt     time.Time    `bun:"received_at"`
}

// messageIn is one message as the platform sends it.
type messageIn struct {
	ID          string `json:"id"`
	Number      string `json:"number"`
	At          string `json:"at"`
	CallerName  string `json:"caller_name"`
	CallerPhone string `json:"caller_phone"`
	Text        string `json:"text"`
	Urgent      bool   `json:"urgent"`
}

// Bounds of a message's texts.
const (
	messageTextMax   = 4000
	messageCallerMax = 200
)

// apiMessages stores the messages of a batch (B2), each once by the platform's id, matched
// by the client's dedicated number like usage; a new message of a subscription with the
// option "message forwarding" (product code TRANSMISSION) is also sent to the client by
// e-mail, in his language.
func (m *Module) apiMessages(c *kit.Ctx) error {
	if done, err := apiGate(c); done {
		return err
	}
	var in struct {
		Messages *[]messageIn `json:"messages"`
	}
	if err := c.DecodeJSON(&in); err != nil {
		return err
	}
	t := c.Tenant()
	switch {
	case in.Messages == nil:
		return kit.FieldErrors{"messages": "billing.usage.api.messages_missing"}
	case int64(len(*in.Messages)) > usageBatchMax.Of(t):
		return kit.FieldErrors{"messages": "billing.usage.api.too_many"}
	}
	now := m.now()
	type toForward struct {
		at  int // index in the reply
		msg TakenMessage
		sub *Subscription
	}
	var reply apiReply
	var forward []toForward
	err := c.In(func(ctx context.Context, sc *store.Scope) error {
		reply, forward = apiReply{Results: []apiResult{}}, nil
		match := usageMatcher(ctx, sc, t)
		transmits := map[string]bool{}
		for _, e := range *in.Messages {
			msg, res, sub, err := m.recordMessage(ctx, c, sc, t, match, now, e)
			if err != nil {
				return err
			}
			if res.Status == usageAccepted {
				on, ok := transmits[sub.ID]
				if !ok {
					if on, err = hasOption(ctx, sc, sub.ID, optionTransmission); err != nil {
						return err
					}
					transmits[sub.ID] = on
				}
				if on {
					f := false
					res.Forwarded = &f
					forward = append(forward, toForward{len(reply.Results), msg, sub})
				}
			}
			reply.add(res)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Sent once stored: a failure to send is logged, and the job billing.forward_messages tries
	// again.
	for _, f := range forward {
		sent, err := m.forwardMessage(c.Context(), c.Host(), t, f.sub, &f.msg)
		if err != nil {
			c.LogFailure(err)
			continue
		}
		reply.Results[f.at].Forwarded = &sent
	}
	return c.JSON(http.StatusOK, reply)
}

// recordMessage checks and stores one message.
func (m *Module) recordMessage(ctx context.Context, c *kit.Ctx, sc *store.Scope, t sdk.Tenant, match func(string, time.Time) (*Subscription, string, error), now time.Time, e messageIn) (TakenMessage, apiResult, *Subscription, error) {
	id := strings.TrimSpace(e.ID)
	if id == "" || len(id) > 128 {
		return TakenMessage{}, refusal(c, id, "bad_id"), nil, nil
	}
	at, reason := usageTime(e.At, now, t)
	if reason != "" {
		return TakenMessage{}, refusal(c, id, reason), nil, nil
	}
	text := strings.TrimSpace(e.Text)
	if text == "" || utf8.RuneCountInString(text) > messageTextMax {
		return TakenMessage{}, refusal(c, id, "bad_text"), nil, nil
	}
	caller := strings.TrimSpace(e.CallerName)
	if utf8.RuneCountInString(caller) > messageCallerMax {
		return TakenMessage{}, refusal(c, id, "bad_caller"), nil, nil
	}
	phone := strings.TrimSpace(e.CallerPhone)
	if phone != "" {
		p, ok := usageE164(phone, t.Country)
		if !ok {
			return TakenMessage{}, refusal(c, id, "bad_caller_phone"), nil, nil
		}
		phone = p
	}
	sub, reason, err := match(e.Number, at)
	if err != nil || reason != "" {
		return TakenMessage{}, refusal(c, id, reason), nil, err
	}
	msg := TakenMessage{TenantID: t.ID, EventID: id, SubscriptionID: sub.ID, TakenAt: at, CallerName: caller, CallerPhone: phone,
		Body: text, Urgent: e.Urgent, ReceivedAt: now}
	res, err := sc.Insert(&msg).On("CONFLICT DO NOTHING").Exec(ctx)
	if err != nil {
		return TakenMessage{}, apiResult{}, nil, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return TakenMessage{}, apiResult{}, nil, err
	} else if n == 0 {
		return TakenMessage{}, apiResult{ID: id, Status: usageDuplicate}, nil, nil
	}
	return msg, apiResult{ID: id, Status: usageAccepted}, sub, nil
}

// hasOption reports whether subscription subID has the option whose product code is code.
func hasOption(ctx context.Context, sc *store.Scope, subID, code string) (bool, error) {
	n, err := sc.Select((*SubscriptionOption)(nil)).
		Join("JOIN billing_products AS prod ON prod.tenant_id = sopt.tenant_id AND prod.id = sopt.product_id").
		Where("sopt.subscription_id = ?", subID).Where("prod.code = ?", code).Count(ctx)
	return n > 0, err
}

// forwardMessage sends msg on to sub's client by e-mail (to his account, in his language;
// to the subscription's address when it has no account). It first claims the message
// (forwarded_at set where it was empty), so that the API and the retry job never both send
// it; a failed send gives the claim back for the next try. sent is false when another
// sender had claimed it.
func (m *Module) forwardMessage(ctx context.Context, h *sdk.Host, t sdk.Tenant, sub *Subscription, msg *TakenMessage) (sent bool, err error) {
	claimed := false
	err = m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		res, err := sc.Update((*TakenMessage)(nil)).Set("forwarded_at = ?", m.now()).Where("msg.event_id = ?", msg.EventID).
			Where("msg.forwarded_at IS NULL").Exec(ctx)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		claimed = n == 1
		return err
	})
	if err != nil || !claimed {
		return false, err
	}
	if _, err := h.Send(ctx, m.forwardedMail(t, sub, msg)); err != nil {
		if rerr := m.In(ctx, t, func(ctx context.Context, sc *store.Scope) error {
			_, err := sc.Update((*TakenMessage)(nil)).Set("forwarded_at = NULL").Where("msg.event_id = ?", msg.EventID).Exec(ctx)
			return err
		}); rerr != nil {
			m.Log.Error("billing: message claim not given back", "tenant", t.Slug, "err", rerr.Error())
		}
		return false, err
	}
	return true, nil
}

// forwardedMail is the e-mail that forwards msg, its words in the client's language.
func (m *Module) forwardedMail(t sdk.Tenant, sub *Subscription, msg *TakenMessage) sdk.Message {
	lang := langOf(t, sub)
	loc := m.Msgs.For(lang)
	caller := msg.CallerName
	if caller == "" {
		caller = loc.T("billing.usage.message.caller_unknown")
	}
	phone := formatPhone(msg.CallerPhone)
	if phone == "" {
		phone = loc.T("billing.usage.message.phone_unknown")
	}
	kind := loc.T("billing.usage.message.kind_normal")
	if msg.Urgent {
		kind = loc.T("billing.usage.message.kind_urgent")
	}
	return letter(sub, tmplMessageForwarded, "/billing/messages?s="+sub.ID, map[string]any{"Kind": kind, "Client": sub.ClientName,
		"Caller": caller, "Phone": phone, "Text": msg.Body, "When": locales.FormatDateTime(lang, msg.TakenAt, zone(t))})
}

// Retries of forwarding: a message the API could not send is tried again by the job
// billing.forward_messages, once it is forwardRetryAfter old and until it is forwardRetryFor
// old (a client who takes the option later is not sent his old messages).
const (
	forwardRetryAfter = 5 * time.Minute
	forwardRetryFor   = 48 * time.Hour
)

// forwardJob sends the messages of subscriptions with the forwarding option that the API
// could not send.
func (m *Module) forwardJob(ctx context.Context, job *sdk.Job) error {
	t := job.Tenant
	now := m.now()
	var msgs []TakenMessage
	var subs []Subscription
	err := m.Read(ctx, t, func(ctx context.Context, sc *store.Scope) error {
		withOption := sc.Select((*SubscriptionOption)(nil)).Column("sopt.subscription_id").
			Join("JOIN billing_products AS prod ON prod.tenant_id = sopt.tenant_id AND prod.id = sopt.product_id").Where("prod.code = ?", optionTransmission)
		if err := sc.Select(&msgs).Where("msg.forwarded_at IS NULL").Where("msg.received_at < ?", now.Add(-forwardRetryAfter)).
			Where("msg.received_at > ?", now.Add(-forwardRetryFor)).Where("msg.subscription_id IN (?)", withOption).
			OrderExpr("msg.received_at").Limit(500).Scan(ctx); err != nil || len(msgs) == 0 {
			return err
		}
		ids := make([]string, len(msgs))
		for i := range msgs {
			ids[i] = msgs[i].SubscriptionID
		}
		return sc.Select(&subs).Where("sub.id IN (?)", bun.In(ids)).Scan(ctx)
	})
	if err != nil {
		return err
	}
	byID := map[string]*Subscription{}
	for i := range subs {
		byID[subs[i].ID] = &subs[i]
	}
	h := sdk.HostFrom(ctx)
	for i := range msgs {
		if _, err := m.forwardMessage(ctx, h, t, byID[msgs[i].SubscriptionID], &msgs[i]); err != nil {
			return err
		}
	}
	return nil
}

package mail

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"carenet.dev/platform/core/tenancy"
)

// SMSAPI delivers SMS through SMSAPI's HTTP API (smsapi.com / smsapi.pl, "sms.do"): a
// form-encoded POST of to (the number in international form, digits only), message, from
// (a sender name registered with the provider; empty: the account's default) and
// format=json, with the account's OAuth token as a bearer token. The provider answers
// {"count":1,"list":[{"id":…,"number":…,"status":"QUEUED"}]}, or {"error":<code>,
// "message":…} for a message it refused. Any failure — the network, a non-2xx status, an
// error code — is returned, and the outbox tries again later with backoff.
type SMSAPI struct {
	// URL is the sms.do endpoint ("https://api.smsapi.com/sms.do").
	URL    string
	Token  string
	Sender string
	Client *http.Client
}

// Deliver sends one SMS.
func (p *SMSAPI) Deliver(ctx context.Context, _ *tenancy.Tenant, e *Entry, _ *gomail.Msg) (string, error) {
	form := url.Values{"to": {strings.TrimPrefix(e.Recipient, "+")}, "message": {e.TextBody}, "format": {"json"},
		"encoding": {"utf-8"}}
	if p.Sender != "" {
		form.Set("from", p.Sender)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if p.Token != "" {
		req.Header.Set("Authorization", "Bearer "+p.Token)
	}
	c := p.Client
	if c == nil {
		c = &http.Client{Timeout: 15 * time.Second}
	}
	res, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("sms: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if res.StatusCode/100 != 2 {
		return "", fmt.Errorf("sms: provider answered %d", res.StatusCode)
	}
	var out struct {
		Error   int    `json:"error"`
		Message string `json:"message"`
		List    []struct {
			ID string `json:"id"`
		} `json:"list"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return "", fmt.Errorf("sms: provider answer: %w", err)
	}
	if out.Error != 0 {
		return "", fmt.Errorf("sms: provider refused the message: error %d (%s)", out.Error, out.Message)
	}
	if len(out.List) == 0 || out.List[0].ID == "" {
		return "", fmt.Errorf("sms: provider answer without a message id")
	}
	return "sms:" + out.List[0].ID, nil
}

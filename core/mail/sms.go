package mail

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	gomail "github.com/wneessen/go-mail"

	"carenet.dev/platform/core/tenancy"
)

// HTTPSMS is an SMS provider reached over HTTP: it POSTs {"to", "text", "sender"} as JSON to
// URL with a bearer token and expects a 2xx answer with {"id"}. Most SMS gateways take this
// shape; a provider with another one gets an adapter of its own behind Transport.
type HTTPSMS struct {
	URL    string
	Token  string
	Client *http.Client
}

// Deliver sends one SMS.
func (h *HTTPSMS) Deliver(ctx context.Context, t *tenancy.Tenant, e *Entry, _ *gomail.Msg) (string, error) {
	name, _ := From(t)
	body, _ := json.Marshal(map[string]string{"to": e.Recipient, "text": e.TextBody, "sender": name})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if h.Token != "" {
		req.Header.Set("Authorization", "Bearer "+h.Token)
	}
	c := h.Client
	if c == nil {
		c = &http.Client{Timeout: 15 * time.Second}
	}
	res, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("sms: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		return "", fmt.Errorf("sms: provider answered %d", res.StatusCode)
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return "", fmt.Errorf("sms: provider answer: %w", err)
	}
	return "sms:" + out.ID, nil
}

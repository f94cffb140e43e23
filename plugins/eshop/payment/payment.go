// Package payment holds the e-shop's payment gateways (REQUIREMENTS E5, E14.d): each starts a
// payment and sends the customer's browser to its page, verifies the signature of the
// notifications it sends back, and answers a status query made server-side. A notification
// is only a trigger: the module marks a payment paid only after the status query says so.
package payment

import (
	"context"
	"errors"
	"net/url"
)

// Status is what a gateway says of a payment.
type Status string

// The statuses.
const (
	Paid    Status = "paid"
	Pending Status = "pending"
	Failed  Status = "failed"
)

// Request is a payment to start.
type Request struct {
	// PaymentID is our payment's id; AmountMinor its amount in minor units of Currency
	// (ISO 4217 letters).
	PaymentID   string
	AmountMinor int64
	Currency    string
	// ReturnURL is where the customer's browser comes back; NotifyURL where the gateway
	// sends its notifications (absolute addresses).
	ReturnURL, NotifyURL string
	// Language is the customer's language ("sk", "fr", "pl"); Email his address, when the
	// gateway asks for it.
	Language, Email string
}

// Started is a started payment: the address the browser goes to, and the gateway's
// reference of the payment (what its notifications and status name).
type Started struct {
	RedirectURL string
	Ref         string
}

// Notice is a notification whose signature checked: the payment it names (by the gateway's
// reference) and the result it claims, which the module never trusts without a status query.
type Notice struct {
	Ref    string
	Result Status
}

// Gateway is a payment gateway.
type Gateway interface {
	// Name is the gateway's id ("sandbox", "besteron"), kept with each payment.
	Name() string
	// Start opens a payment.
	Start(ctx context.Context, r Request) (Started, error)
	// Verify checks a notification's (or a return's) signature and reads it.
	Verify(params url.Values) (Notice, error)
	// Status asks the gateway, server-side, what became of the payment of reference ref.
	Status(ctx context.Context, ref string) (Status, error)
}

// Errors of the gateways.
var (
	// ErrSignature: a notification whose signature does not check (or that is incomplete).
	ErrSignature = errors.New("payment: bad signature")
	// ErrUnknown: the gateway knows no payment of that reference.
	ErrUnknown = errors.New("payment: unknown payment")
	// ErrConfig: the gateway lacks its configuration (credentials).
	ErrConfig = errors.New("payment: gateway not configured")
)

package payment

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"sort"
	"sync"
	"time"
)

// Sandbox is a gateway for development, the demo and tests: its payment page is served by
// the module itself (PageURL), where the customer pays or fails; its notifications are
// signed with HMAC-SHA-256 under Secret (one per tenant and process), and its status is
// answered from its own memory, re-queried the way Besteron's is.
//
// Knobs, for tests and demos: each notification may be delivered Duplicates more times,
// Stale adds a stale "pending" notification after the real one (out-of-order delivery), and
// Delay withholds the notifications until Due gives them.
type Sandbox struct {
	Secret  []byte
	PageURL func(ref string) string
	Now     func() time.Time

	Duplicates int
	Stale      bool
	Delay      time.Duration

	mu       sync.Mutex
	payments map[string]*SandboxPayment
	queue    []queued
}

// SandboxPayment is a payment the sandbox holds.
type SandboxPayment struct {
	Ref         string
	AmountMinor int64
	Currency    string
	ReturnURL   string
	Status      Status
}

type queued struct {
	at time.Time
	v  url.Values
}

// NewSandbox returns a sandbox signing with secret, whose page for a payment is page(ref).
func NewSandbox(secret []byte, page func(ref string) string) *Sandbox {
	return &Sandbox{Secret: secret, PageURL: page, payments: map[string]*SandboxPayment{}}
}

// Name is "sandbox".
func (s *Sandbox) Name() string { return "sandbox" }

func (s *Sandbox) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Start records the payment; its reference is our payment's id.
func (s *Sandbox) Start(_ context.Context, r Request) (Started, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.payments[r.PaymentID] = &SandboxPayment{Ref: r.PaymentID, AmountMinor: r.AmountMinor, Currency: r.Currency, ReturnURL: r.ReturnURL, Status: Pending}
	return Started{RedirectURL: s.PageURL(r.PaymentID), Ref: r.PaymentID}, nil
}

// Payment is the payment of reference ref, if the sandbox holds it.
func (s *Sandbox) Payment(ref string) (SandboxPayment, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.payments[ref]
	if !ok {
		return SandboxPayment{}, false
	}
	return *p, true
}

// Decide is the customer's choice on the sandbox's page: pay (true) or fail. A payment
// decided already keeps its first outcome. It returns the notifications to deliver now, in
// order (none while Delay withholds them).
func (s *Sandbox) Decide(ref string, pay bool) ([]url.Values, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.payments[ref]
	if !ok {
		return nil, ErrUnknown
	}
	if p.Status == Pending {
		p.Status = Failed
		if pay {
			p.Status = Paid
		}
	}
	var out []url.Values
	n := s.sign(ref, p.Status)
	for i := 0; i <= s.Duplicates; i++ {
		out = append(out, n)
	}
	if s.Stale {
		out = append(out, s.sign(ref, Pending))
	}
	if s.Delay > 0 {
		at := s.now().Add(s.Delay)
		for _, v := range out {
			s.queue = append(s.queue, queued{at, v})
		}
		return nil, nil
	}
	return out, nil
}

// Due gives the withheld notifications whose delay has passed, once.
func (s *Sandbox) Due() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	sort.SliceStable(s.queue, func(i, j int) bool { return s.queue[i].at.Before(s.queue[j].at) })
	var out []url.Values
	keep := s.queue[:0]
	for _, q := range s.queue {
		if !q.at.After(now) {
			out = append(out, q.v)
		} else {
			keep = append(keep, q)
		}
	}
	s.queue = keep
	return out
}

// sign is a notification of ref with result, signed.
func (s *Sandbox) sign(ref string, result Status) url.Values {
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	v := url.Values{"ref": {ref}, "result": {string(result)}, "nonce": {hex.EncodeToString(nonce[:])}}
	v.Set("sig", s.mac(v))
	return v
}

func (s *Sandbox) mac(v url.Values) string {
	h := hmac.New(sha256.New, s.Secret)
	h.Write([]byte(v.Get("ref") + "|" + v.Get("result") + "|" + v.Get("nonce")))
	return hex.EncodeToString(h.Sum(nil))
}

// Verify checks a notification's HMAC.
func (s *Sandbox) Verify(v url.Values) (Notice, error) {
	if v.Get("ref") == "" || v.Get("sig") == "" {
		return Notice{}, ErrSignature
	}
	want := s.mac(v)
	if !hmac.Equal([]byte(want), []byte(v.Get("sig"))) {
		return Notice{}, ErrSignature
	}
	r := Status(v.Get("result"))
	if r != Paid && r != Failed {
		r = Pending
	}
	return Notice{Ref: v.Get("ref"), Result: r}, nil
}

// Status is what became of the payment.
func (s *Sandbox) Status(_ context.Context, ref string) (Status, error) {
	p, ok := s.Payment(ref)
	if !ok {
		return "", ErrUnknown
	}
	return p.Status, nil
}

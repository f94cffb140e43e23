package payment

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// besteronSide plays Besteron's side of its documented messages: the payment page checks
// the request's signature (with its own copy of the merchant key), a payment it takes is
// listed by is-payment-received, and its notifications are signed the same way.
type besteronSide struct {
	t        *testing.T
	cid, api string
	signer   *Besteron // the same key, on Besteron's side
	mu       sync.Mutex
	received map[string]bool
	badSigns int
}

func newBesteronSide(t *testing.T) (*besteronSide, *httptest.Server) {
	key, _ := hex.DecodeString("000102030405060708090a0b0c0d0e0f")
	s := &besteronSide{t: t, cid: "4242", api: "api-secret", signer: &Besteron{CID: "4242", Key: key}, received: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /pay-request/", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		want, _ := s.signer.Sign(q.Get("cid") + q.Get("type") + q.Get("amnt") + q.Get("curr") + q.Get("vs") + q.Get("ru"))
		if q.Get("sign") != want {
			s.mu.Lock()
			s.badSigns++
			s.mu.Unlock()
			http.Error(w, "bad sign", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.received[q.Get("vs")] = true
		s.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /rest/is-payment-received", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("Cid") != s.cid || q.Get("ApiKey") != s.api {
			_ = json.NewEncoder(w).Encode(map[string]any{"resultCode": "ERR_AUTH", "resultMessage": "bad credentials"})
			return
		}
		s.mu.Lock()
		paid := s.received[q.Get("Vs")]
		s.mu.Unlock()
		payments := []any{}
		if paid {
			payments = append(payments, map[string]any{"vs": q.Get("Vs"), "amount": "12.34"})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"resultCode": "OK", "payments": payments})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return s, srv
}

// notice is Besteron's signed notification of a payment.
func (s *besteronSide) notice(amnt, curr, vs, result string) url.Values {
	sign, _ := s.signer.Sign(s.cid + "" + amnt + curr + vs + result)
	return url.Values{"TYPE": {""}, "AMNT": {amnt}, "CURR": {curr}, "VS": {vs}, "RESULT": {result}, "SIGN": {sign}}
}

// E5: Besteron's signature is AES (ECB) of the first 16 bytes of SHA-1, in upper-case hex:
// the value OpenSSL gives for the same input and key.
func TestBesteronSignatureMatchesItsDefinition(t *testing.T) {
	key, _ := hex.DecodeString("000102030405060708090a0b0c0d0e0f")
	b := &Besteron{Key: key}
	// printf %s "$s" | sha1sum | cut -c1-32 | xxd -r -p | openssl enc -aes-128-ecb -K 0001…0f -nopad
	got, err := b.Sign("1234SK9781.0097800000000011OK")
	if err != nil || got != "54A6F2845223FDC9FCC426CB5C865D51" {
		t.Fatalf("sign = %q, %v", got, err)
	}
}

// E5: a payment through Besteron: the request's signature checks on Besteron's side; the
// notification's signature checks on ours and a forged one is refused; and the status query
// says pending before the payment and paid after it.
func TestBesteronAgainstItsProtocol(t *testing.T) {
	side, srv := newBesteronSide(t)
	key, _ := hex.DecodeString("000102030405060708090a0b0c0d0e0f")
	b := &Besteron{CID: "4242", Key: key, APIKey: "api-secret", PayURL: srv.URL + "/pay-request/", StatusURL: srv.URL + "/rest/is-payment-received", Client: srv.Client()}
	ctx := context.Background()
	st, err := b.Start(ctx, Request{PaymentID: "p1", AmountMinor: 1234, Currency: "EUR", ReturnURL: "https://shop.example/eshop/pay/p1/return", Language: "sk"})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Ref) != 10 || strings.Trim(st.Ref, "0123456789") != "" {
		t.Fatalf("variable symbol %q: want ten digits", st.Ref)
	}
	u, _ := url.Parse(st.RedirectURL)
	if q := u.Query(); q.Get("amnt") != "12.34" || q.Get("curr") != "978" || q.Get("vs") != st.Ref || q.Get("lang") != "SK" {
		t.Fatalf("payment request %v", q)
	}
	if s, err := b.Status(ctx, st.Ref); err != nil || s != Pending {
		t.Fatalf("before paying: %v, %v", s, err)
	}
	// The customer pays on Besteron's page: it checks our signature.
	res, err := srv.Client().Get(st.RedirectURL)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("payment page: %v %v (bad signs %d)", res.StatusCode, err, side.badSigns)
	}
	// A request whose amount was altered in the browser is refused by Besteron.
	forged := strings.Replace(st.RedirectURL, "amnt=12.34", "amnt=0.01", 1)
	if res, _ := srv.Client().Get(forged); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("forged request: %d", res.StatusCode)
	}
	n, err := b.Verify(side.notice("12.34", "978", st.Ref, "OK"))
	if err != nil || n.Ref != st.Ref || n.Result != Paid {
		t.Fatalf("notification: %+v, %v", n, err)
	}
	tampered := side.notice("12.34", "978", st.Ref, "FAIL")
	tampered.Set("RESULT", "OK")
	if _, err := b.Verify(tampered); !errors.Is(err, ErrSignature) {
		t.Fatalf("tampered notification: %v", err)
	}
	if _, err := b.Verify(url.Values{"VS": {st.Ref}, "RESULT": {"OK"}}); !errors.Is(err, ErrSignature) {
		t.Fatalf("unsigned notification: %v", err)
	}
	if s, err := b.Status(ctx, st.Ref); err != nil || s != Paid {
		t.Fatalf("after paying: %v, %v", s, err)
	}
	wrong := *b
	wrong.APIKey = "nope"
	if _, err := wrong.Status(ctx, st.Ref); err == nil {
		t.Fatal("a refused status query passed for an answer")
	}
}

// E5: the sandbox signs its notifications; a forged one is refused; the knobs give
// duplicates, a stale notification after the real one, and withheld ones until their delay
// passed; the status query answers the decision.
func TestSandboxNotifications(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	s := NewSandbox([]byte("secret-a"), func(ref string) string { return "/eshop/sandbox/" + ref })
	s.Now = func() time.Time { return now }
	ctx := context.Background()
	st, _ := s.Start(ctx, Request{PaymentID: "p1", AmountMinor: 500, Currency: "EUR"})
	if st.RedirectURL != "/eshop/sandbox/p1" || st.Ref != "p1" {
		t.Fatalf("start: %+v", st)
	}
	if got, _ := s.Status(ctx, "p1"); got != Pending {
		t.Fatalf("status %q", got)
	}
	s.Duplicates, s.Stale = 2, true
	ns, err := s.Decide("p1", true)
	if err != nil || len(ns) != 4 {
		t.Fatalf("%d notifications, %v", len(ns), err)
	}
	for i, n := range ns {
		got, err := s.Verify(n)
		want := Paid
		if i == 3 {
			want = Pending
		}
		if err != nil || got.Ref != "p1" || got.Result != want {
			t.Fatalf("notification %d: %+v %v", i, got, err)
		}
	}
	forged := ns[0]
	forged.Set("ref", "p2")
	if _, err := s.Verify(forged); !errors.Is(err, ErrSignature) {
		t.Fatalf("forged: %v", err)
	}
	other := NewSandbox([]byte("secret-b"), nil)
	if _, err := other.Verify(ns[1]); !errors.Is(err, ErrSignature) {
		t.Fatalf("another tenant's key verified it: %v", err)
	}
	// A decided payment keeps its first outcome.
	if _, err := s.Decide("p1", false); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Status(ctx, "p1"); got != Paid {
		t.Fatalf("status after a second decision %q", got)
	}
	s.Duplicates, s.Stale, s.Delay = 0, false, time.Minute
	_, _ = s.Start(ctx, Request{PaymentID: "p3", AmountMinor: 500, Currency: "EUR"})
	if ns, _ := s.Decide("p3", false); len(ns) != 0 {
		t.Fatalf("%d notifications not withheld", len(ns))
	}
	if len(s.Due()) != 0 {
		t.Fatal("given before their delay")
	}
	now = now.Add(time.Minute)
	if ns := s.Due(); len(ns) != 1 || ns[0].Get("result") != string(Failed) {
		t.Fatalf("due: %v", ns)
	}
	if len(s.Due()) != 0 {
		t.Fatal("given twice")
	}
	if _, err := s.Status(ctx, "nope"); !errors.Is(err, ErrUnknown) {
		t.Fatalf("unknown: %v", err)
	}
}

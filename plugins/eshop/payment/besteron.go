package payment

import (
	"context"
	"crypto/aes"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Besteron is the Besteron gateway (Slovakia), after its public integration as the
// open-source Omnipay driver implements it:
//
//   - the payment request is a redirect to the payment page with cid, type (the payment
//     method), amnt ("12.34"), curr (ISO 4217 numeric), vs (the variable symbol: up to ten
//     digits), ru (the return address), lang, and sign = SIGN(cid+type+amnt+curr+vs+ru);
//   - the return and the notification carry TYPE, AMNT, CURR, VS, RESULT ("OK", "FAIL")
//     and SIGN = SIGN(cid+TYPE+AMNT+CURR+VS+RESULT);
//   - SIGN(s) is the first 16 bytes of SHA-1(s) (its first 32 hex digits), encrypted with
//     AES in ECB mode under the merchant's key (hex), in upper-case hex;
//   - the status query GET <StatusURL>?Cid=…&ApiKey=…&Vs=… answers JSON {"resultCode":
//     "OK", "payments": […]}: the payment is received when payments is not empty.
type Besteron struct {
	CID    string
	Key    []byte // the signing key (AES-128/192/256)
	APIKey string
	// Type is the payment method the page opens with (e.g. "BIATATPAY"; "" lets the
	// customer choose on Besteron's page).
	Type string
	// PayURL is the payment page, StatusURL the status query.
	PayURL, StatusURL string
	Client            *http.Client
}

// Besteron's public addresses.
const (
	BesteronPayURL     = "https://payments.besteron.com/pay-request/"
	BesteronTestPayURL = "https://client.besteron.com/public/virtual-payment/request/"
	BesteronStatusURL  = "https://ws.besteron.com/rest/is-payment-received"
)

// BesteronFromEnv reads the merchant's credentials from the module's environment (never
// from a tenant's configuration): ESHOP_BESTERON_CID, ESHOP_BESTERON_KEY (hex),
// ESHOP_BESTERON_API_KEY, and optionally ESHOP_BESTERON_TYPE, ESHOP_BESTERON_TEST=1 (the
// virtual test page). It returns ErrConfig when any credential is missing.
func BesteronFromEnv() (*Besteron, error) {
	cid, key, api := os.Getenv("ESHOP_BESTERON_CID"), os.Getenv("ESHOP_BESTERON_KEY"), os.Getenv("ESHOP_BESTERON_API_KEY")
	if cid == "" || key == "" || api == "" {
		return nil, ErrConfig
	}
	k, err := hex.DecodeString(key)
	if err != nil {
		return nil, fmt.Errorf("%w: ESHOP_BESTERON_KEY is not hex", ErrConfig)
	}
	b := &Besteron{CID: cid, Key: k, APIKey: api, Type: os.Getenv("ESHOP_BESTERON_TYPE"), PayURL: BesteronPayURL, StatusURL: BesteronStatusURL}
	if os.Getenv("ESHOP_BESTERON_TEST") == "1" {
		b.PayURL = BesteronTestPayURL
	}
	if _, err := aes.NewCipher(k); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return b, nil
}

// Name is "besteron".
func (b *Besteron) Name() string { return "besteron" }

// Sign is Besteron's signature of s.
func (b *Besteron) Sign(s string) (string, error) {
	block, err := aes.NewCipher(b.Key)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrConfig, err)
	}
	sum := sha1.Sum([]byte(s))
	out := make([]byte, aes.BlockSize)
	block.Encrypt(out, sum[:aes.BlockSize])
	return strings.ToUpper(hex.EncodeToString(out)), nil
}

// numericCurrency is ISO 4217's number of a currency.
var numericCurrency = map[string]string{"EUR": "978", "CZK": "203", "PLN": "985", "HUF": "348", "USD": "840", "GBP": "826", "CHF": "756"}

// Amount is minor units as Besteron writes them ("12.34").
func Amount(minor int64) string { return fmt.Sprintf("%d.%02d", minor/100, minor%100) }

// Start builds the signed redirect to the payment page. Its reference is a fresh variable
// symbol of ten digits (the module stores it, unique per tenant and gateway).
func (b *Besteron) Start(_ context.Context, r Request) (Started, error) {
	curr, ok := numericCurrency[strings.ToUpper(r.Currency)]
	if !ok {
		return Started{}, fmt.Errorf("payment: besteron: currency %q", r.Currency)
	}
	if r.AmountMinor <= 0 {
		return Started{}, fmt.Errorf("payment: besteron: amount %d", r.AmountMinor)
	}
	n, err := rand.Int(rand.Reader, big.NewInt(9_000_000_000))
	if err != nil {
		return Started{}, err
	}
	vs := fmt.Sprintf("%010d", n.Int64()+1_000_000_000)
	amnt := Amount(r.AmountMinor)
	sign, err := b.Sign(b.CID + b.Type + amnt + curr + vs + r.ReturnURL)
	if err != nil {
		return Started{}, err
	}
	q := url.Values{"cid": {b.CID}, "amnt": {amnt}, "curr": {curr}, "vs": {vs}, "ru": {r.ReturnURL}, "sign": {sign}}
	if b.Type != "" {
		q.Set("type", b.Type)
	}
	if r.Language != "" {
		q.Set("lang", strings.ToUpper(r.Language))
	}
	if r.NotifyURL != "" {
		q.Set("nu", r.NotifyURL)
	}
	if r.Email != "" {
		q.Set("email", r.Email)
	}
	return Started{RedirectURL: b.PayURL + "?" + q.Encode(), Ref: vs}, nil
}

// Verify checks the SIGN of a return or notification.
func (b *Besteron) Verify(p url.Values) (Notice, error) {
	vs, result, sign := p.Get("VS"), p.Get("RESULT"), p.Get("SIGN")
	if vs == "" || result == "" || sign == "" {
		return Notice{}, ErrSignature
	}
	want, err := b.Sign(b.CID + p.Get("TYPE") + p.Get("AMNT") + p.Get("CURR") + vs + result)
	if err != nil {
		return Notice{}, err
	}
	if subtle.ConstantTimeCompare([]byte(strings.ToUpper(sign)), []byte(want)) != 1 {
		return Notice{}, ErrSignature
	}
	n := Notice{Ref: vs, Result: Pending}
	switch strings.ToUpper(result) {
	case "OK":
		n.Result = Paid
	case "FAIL":
		n.Result = Failed
	}
	return n, nil
}

// Status asks is-payment-received whether the payment of variable symbol ref was received:
// paid when Besteron lists a payment, pending otherwise (the query knows no failure: an
// unpaid payment lapses with the order's deadline).
func (b *Besteron) Status(ctx context.Context, ref string) (Status, error) {
	q := url.Values{"Cid": {b.CID}, "ApiKey": {b.APIKey}, "Vs": {ref}}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.StatusURL+"?"+q.Encode(), nil)
	if err != nil {
		return "", err
	}
	client := b.Client
	if client == nil {
		client = http.DefaultClient
	}
	res, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("payment: besteron status: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("payment: besteron status: HTTP %d", res.StatusCode)
	}
	var out struct {
		ResultCode    string            `json:"resultCode"`
		ResultMessage string            `json:"resultMessage"`
		Payments      []json.RawMessage `json:"payments"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, res.Body, 1<<20)).Decode(&out); err != nil {
		return "", fmt.Errorf("payment: besteron status: %w", err)
	}
	if out.ResultCode != "OK" {
		return "", fmt.Errorf("payment: besteron status: %s %s", out.ResultCode, out.ResultMessage)
	}
	if len(out.Payments) > 0 {
		return Paid, nil
	}
	return Pending, nil
}

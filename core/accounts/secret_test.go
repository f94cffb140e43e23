package accounts_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/form"
	"carenet.dev/platform/core/tenancy"
)

// TestSecretAnswerNormalization: an answer read out on the phone matches whatever its case,
// accents and spacing (P2, R2).
func TestSecretAnswerNormalization(t *testing.T) {
	for in, want := range map[string]string{
		"  Éléphant ":           "elephant",
		"ÉLÉPHANT":              "elephant",
		"éléphant  rose\t\n":    "elephant rose",
		"Żółć  Łódź":            "zołc łodz", // ł is a letter of its own, not an accented l
		"Ťava  ŇÁDEJ  ä":        "tava nadej a",
		"\u0065\u0301cole":      "ecole", // é written as e + combining accent
		"   ":                   "",
		"Jean-Pierre   O'Neil ": "jean-pierre o'neil",
	} {
		if got := accounts.NormalizeSecret(in); got != want {
			t.Errorf("NormalizeSecret(%q) = %q, want %q", in, got, want)
		}
	}
}

func secretTenant(t *testing.T, s *accounts.Service, tn *tenancy.Tenant) *tenancy.Tenant {
	t.Helper()
	if tn.Settings.Rules == nil {
		tn.Settings.Rules = map[string]any{}
	}
	tn.Settings.Rules[accounts.RuleSecretQuestion] = true
	if err := (&tenancy.Store{DB: s.DB}).Save(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
	return tn
}

// TestSecretQuestionAtRegistration: where the tenant's rule asks for it, registration needs a
// question and an answer of at most 200 characters; only an argon2id hash of the normalized
// answer is stored, and it is checked without regard to case, accents and spacing (P2, R2).
func TestSecretQuestionAtRegistration(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		s, tn := setup(t, b)
		ctx := context.Background()
		// Without the rule, nothing is asked and nothing is stored.
		u, _, _, err := s.Register(ctx, tn, input("off@example.org"), nil, nil)
		if err != nil || u.SecretQuestion != "" || u.SecretAnswerHash != "" {
			t.Fatalf("rule off: %v %+v", err, u)
		}
		tn = secretTenant(t, s, tn)
		in := input("on@example.org")
		_, _, _, err = s.Register(ctx, tn, in, nil, nil)
		var ferr form.Errors
		if !errors.As(err, &ferr) || ferr["secret_question"] != "form.required" || ferr["secret_answer"] != "form.required" {
			t.Fatalf("missing secret: %v", err)
		}
		in.SecretQuestion, in.SecretAnswer = strings.Repeat("q", 201), "   "
		_, _, _, err = s.Register(ctx, tn, in, nil, nil)
		if !errors.As(err, &ferr) || ferr["secret_question"] != "form.too_long" || ferr["secret_answer"] != "form.required" {
			t.Fatalf("too long question, blank answer: %v", err)
		}
		in.SecretQuestion, in.SecretAnswer = "Animal ?", strings.Repeat("a", 201)
		if _, _, _, err = s.Register(ctx, tn, in, nil, nil); !errors.As(err, &ferr) || ferr["secret_answer"] != "form.too_long" {
			t.Fatalf("too long answer: %v", err)
		}
		in.SecretQuestion, in.SecretAnswer, in.Portal = "  Animal préféré ?  ", "  Éléphant ", "patients"
		u, _, _, err = s.Register(ctx, tn, in, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		stored, _ := s.ByID(ctx, tn.ID, u.ID)
		if stored.SecretQuestion != "Animal préféré ?" || stored.Portal != "patients" {
			t.Fatalf("stored: %q %q", stored.SecretQuestion, stored.Portal)
		}
		h := stored.SecretAnswerHash
		if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(strings.ToLower(h), "elephant") || strings.Contains(h, "Éléphant") {
			t.Fatalf("hash %q", h)
		}
		for answer, want := range map[string]bool{"elephant": true, "ÉLÉPHANT  ": true, "Elephant rose": false, "": false} {
			match, has, err := s.CheckSecret(ctx, tn.ID, u.ID, answer)
			if err != nil || !has || match != want {
				t.Errorf("check %q: match=%v has=%v err=%v", answer, match, has, err)
			}
		}
		other, _ := s.ByEmail(ctx, tn.ID, "off@example.org")
		if match, has, err := s.CheckSecret(ctx, tn.ID, other.ID, "x"); match || has || err != nil {
			t.Fatalf("no secret: %v %v %v", match, has, err)
		}
		if _, _, err := s.CheckSecret(ctx, tn.ID, "no-such-user", "x"); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("unknown user: %v", err)
		}
	})
}

// TestResetAsksTheSecretAnswer: with the rule on, a reset link also needs the secret answer; a
// wrong one is a field error and leaves the link usable (P2, R2).
func TestResetAsksTheSecretAnswer(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		s, tn := setup(t, b)
		tn = secretTenant(t, s, tn)
		ctx := context.Background()
		in := input("r@example.org")
		in.SecretQuestion, in.SecretAnswer = "Ville ?", "Saint-Étienne"
		if _, _, _, err := s.Register(ctx, tn, in, nil, nil); err != nil {
			t.Fatal(err)
		}
		_, token, err := s.RequestReset(ctx, tn, "r@example.org")
		if err != nil {
			t.Fatal(err)
		}
		if q, err := s.ResetQuestion(ctx, tn, token); err != nil || q != "Ville ?" {
			t.Fatalf("question: %q %v", q, err)
		}
		_, err = s.ResetPassword(ctx, tn, token, "new long password", "new long password", "Lyon")
		var ferr form.Errors
		if !errors.As(err, &ferr) || ferr["secret_answer"] != "account.secret.wrong" {
			t.Fatalf("wrong answer: %v", err)
		}
		if _, err := s.ResetPassword(ctx, tn, token, "new long password", "new long password", " saint-etienne "); err != nil {
			t.Fatalf("right answer after a wrong one: %v", err)
		}
		if _, err := s.ResetPassword(ctx, tn, token, "new long password", "new long password", "saint-etienne"); !errors.Is(err, accounts.ErrTokenInvalid) {
			t.Fatalf("second use: %v", err)
		}
		if q, _ := s.ResetQuestion(ctx, tn, token); q != "" {
			t.Fatalf("a used link still shows the question: %q", q)
		}
	})
}

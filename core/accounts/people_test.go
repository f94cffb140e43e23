package accounts_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"carenet.dev/platform/core/accounts"
	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/form"
	"carenet.dev/platform/core/tenancy"
)

func setRules(tn *tenancy.Tenant, kv map[string]any) {
	if tn.Settings.Rules == nil {
		tn.Settings.Rules = map[string]any{}
	}
	for k, v := range kv {
		tn.Settings.Rules[k] = v
	}
}

func fieldErr(t *testing.T, err error, field string) string {
	t.Helper()
	var ferr form.Errors
	if !errors.As(err, &ferr) {
		t.Fatalf("want field errors, got %v", err)
	}
	return ferr[field]
}

// E2: the rodné číslo, when given, must encode the date of birth typed (a valid number of
// someone else is refused next to its field, nothing saved); without one, the date of birth
// stands. The choice fields (sex, country) take only their values, kept as codes.
func TestRegistrationNationalIDMatchesBirthDateE2(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		s, tn := setup(t, b)
		ctx := context.Background()
		tn.Settings.Country = "SK"
		extra := []accounts.Field{{Name: "birth_number", Type: "national_id", MaxLen: 24},
			{Name: "sex", Type: accounts.FieldSex, Required: true}, {Name: "nationality", Type: accounts.FieldCountry, Required: true}}
		in := input("rc@example.org")
		in.BirthDate = "1980-01-02"
		in.Extra = map[string]string{"birth_number": "800101/0006", "sex": "male", "nationality": "SK"}
		_, _, _, err := s.Register(ctx, tn, in, extra, nil)
		if got := fieldErr(t, err, "birth_number"); got != "form.natid.birth_mismatch" {
			t.Fatalf("a number of another birth date: %q", got)
		}
		if _, err := s.ByEmail(ctx, tn.ID, "rc@example.org"); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatal("a refused registration saved an account")
		}
		in.Extra = map[string]string{"birth_number": "8001010006", "sex": "other", "nationality": "Slovak"}
		in.BirthDate = "1980-01-01"
		_, _, _, err = s.Register(ctx, tn, in, extra, nil)
		if fieldErr(t, err, "sex") != "form.invalid_choice" || fieldErr(t, err, "nationality") != "form.invalid_choice" || fieldErr(t, err, "birth_number") != "" {
			t.Fatalf("choices: %v", err)
		}
		// E2: a man's rodné číslo (its month not raised by 50) with "female" chosen.
		in.Extra = map[string]string{"birth_number": "800101/0006", "sex": "female", "nationality": "SK"}
		_, _, _, err = s.Register(ctx, tn, in, extra, nil)
		if got := fieldErr(t, err, "birth_number"); got != "form.natid.sex_mismatch" {
			t.Fatalf("a number of the other sex: %q", got)
		}
		in.Extra = map[string]string{"birth_number": "800101/0006", "sex": "male", "nationality": "SK"}
		u, _, _, err := s.Register(ctx, tn, in, extra, nil)
		if err != nil || u.Profile["birth_number"] != "8001010006" || u.Profile["sex"] != "male" || u.Profile["nationality"] != "SK" {
			t.Fatalf("a matching number: %v %+v", err, u)
		}
		// No number assigned: the date of birth stands alone.
		in = input("nonum@example.org")
		in.Extra = map[string]string{"sex": "female", "nationality": "CZ"}
		if u, _, _, err := s.Register(ctx, tn, in, extra, nil); err != nil || u.BirthDate != "1990-02-03" || u.Profile["birth_number"] != "" {
			t.Fatalf("without a number: %v %+v", err, u)
		}
	})
}

// E2 [003 I.6.20]: an account holder is 18 (account.min_age), or, where the tenant allows it
// (account.majority_by_marriage_age), of age earlier by marriage from that age, which he
// declares; and he declares his full legal capacity where the tenant asks it. The
// declarations made are what the account records.
func TestMajorityByMarriageAndCapacityE2(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		s, tn := setup(t, b)
		ctx := context.Background()
		now := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
		s.Now = func() time.Time { return now }
		seventeen, fifteen := "2009-01-15", "2011-01-15"
		register := func(email, birth string, marriage, capacity bool) (accounts.RegisterInput, error) {
			in := input(email)
			in.BirthDate, in.MarriageDeclared, in.CapacityDeclared = birth, marriage, capacity
			errs := s.ValidateRegistration(tn, &in, nil)
			if len(errs) > 0 {
				return in, errs
			}
			_, _, _, err := s.Register(ctx, tn, in, nil, nil)
			return in, err
		}
		// The rule off (0): under 18 is too young, declaration or not.
		if _, err := register("a@example.org", seventeen, true, false); fieldErr(t, err, "birth_date") != "account.register.too_young" {
			t.Fatalf("rule off: %v", err)
		}
		setRules(tn, map[string]any{accounts.RuleMajorityByMarriageAge: int64(16), accounts.RuleCapacityDeclaration: true})
		if _, err := register("b@example.org", seventeen, false, true); fieldErr(t, err, "declare_marriage") != "account.register.marriage_required" {
			t.Fatalf("17 without the declaration: %v", err)
		}
		if _, err := register("c@example.org", fifteen, true, true); fieldErr(t, err, "birth_date") != "account.register.too_young" {
			t.Fatalf("15 with the declaration: %v", err)
		}
		if _, err := register("d@example.org", "1990-01-01", false, false); fieldErr(t, err, "declare_capacity") != "account.register.capacity_required" {
			t.Fatalf("capacity not declared: %v", err)
		}
		in, err := register("e@example.org", seventeen, true, true)
		if err != nil {
			t.Fatalf("17, married, capable: %v", err)
		}
		if got := in.Declarations(tn); len(got) != 2 || got[0] != accounts.DeclarationMarriage || got[1] != accounts.DeclarationCapacity {
			t.Fatalf("declarations recorded: %v", got)
		}
		// An adult's marriage declaration says nothing: not recorded.
		in, err = register("f@example.org", "1990-01-01", true, true)
		if got := in.Declarations(tn); err != nil || len(got) != 1 || got[0] != accounts.DeclarationCapacity {
			t.Fatalf("an adult's declarations: %v %v", err, got)
		}
	})
}

// E2: the login e-mail changes only once the link sent to the new address is followed, with
// the password confirmed first; the link works once; an address another account holds is
// refused at the request, and, when two accounts race for the same new address, the
// database's unique key lets exactly one have it.
func TestLoginEmailChangeE2(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		s, tn := setup(t, b)
		ctx := context.Background()
		u, err := s.CreateActive(ctx, tn, "old@example.org", "long enough pw", "Anna", "1990-02-03", "fr")
		if err != nil {
			t.Fatal(err)
		}
		other, err := s.CreateActive(ctx, tn, "other@example.org", "long enough pw", "Bea", "1990-02-03", "fr")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.RequestEmailChange(ctx, tn, u, "wrong password", "new@example.org"); fieldErr(t, err, "email_password") != "account.password.current_wrong" {
			t.Fatalf("wrong password: %v", err)
		}
		if _, err := s.RequestEmailChange(ctx, tn, u, "long enough pw", "not an address"); fieldErr(t, err, "new_email") != "form.email.invalid" {
			t.Fatalf("bad address: %v", err)
		}
		if _, err := s.RequestEmailChange(ctx, tn, u, "long enough pw", "Other@example.org"); !errors.Is(err, accounts.ErrEmailTaken) {
			t.Fatalf("another account's address: %v", err)
		}
		token, err := s.RequestEmailChange(ctx, tn, u, "long enough pw", "New@Example.org")
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := s.ByID(ctx, tn.ID, u.ID); got.Email != "old@example.org" {
			t.Fatalf("changed before the link was followed: %s", got.Email)
		}
		if p, _ := s.PendingEmail(ctx, tn.ID, u.ID); p != "new@example.org" {
			t.Fatalf("pending: %q", p)
		}
		ch, err := s.ConfirmEmailChange(ctx, tn, token)
		if err != nil || ch.OldEmail != "old@example.org" || ch.User.Email != "new@example.org" {
			t.Fatalf("confirm: %v %+v", err, ch)
		}
		if got, _ := s.ByEmail(ctx, tn.ID, "new@example.org"); got == nil || got.ID != u.ID {
			t.Fatal("the new address does not open the account")
		}
		if _, err := s.ConfirmEmailChange(ctx, tn, token); !errors.Is(err, accounts.ErrTokenInvalid) {
			t.Fatalf("a link used twice: %v", err)
		}
		// Two accounts, each with a link to the same free address, followed at once.
		u, _ = s.ByID(ctx, tn.ID, u.ID)
		t1, err1 := s.RequestEmailChange(ctx, tn, u, "long enough pw", "shared@example.org")
		t2, err2 := s.RequestEmailChange(ctx, tn, other, "long enough pw", "shared@example.org")
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, tok := range []string{t1, t2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.ConfirmEmailChange(ctx, tn, tok)
			}()
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, accounts.ErrEmailTaken) && !db.IsUniqueViolation(err):
				t.Fatalf("the loser: %v", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d accounts got the same address", wins)
		}
	})
}

// E2: withdrawing the consent to the processing of data sets the day the account closes
// (account.consent_withdrawal_notice_days); giving it again before that day cancels the
// closing; on the day, the closure deletes the account (the modules' user-deleted event) and
// keeps what an appeal needs; concurrent closings close it once.
func TestConsentWithdrawalClosesAfterNoticeE2(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		s, tn := setup(t, b)
		ctx := context.Background()
		now := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
		s.Now = func() time.Time { return now }
		var events []string
		s.Changed = func(_ context.Context, _ *db.Scope, _ *tenancy.Tenant, kind, userID string) error {
			events = append(events, kind+":"+userID)
			return nil
		}
		setRules(tn, map[string]any{accounts.RuleWithdrawalNoticeDays: int64(10)})
		u, err := s.CreateActive(ctx, tn, "w@example.org", "long enough pw", "Anna", "1990-02-03", "fr")
		if err != nil {
			t.Fatal(err)
		}
		recorded := 0
		at, err := s.WithdrawConsent(ctx, tn, u.ID, func(context.Context, *db.Scope, time.Time) error { recorded++; return nil })
		if err != nil || !at.Equal(now.AddDate(0, 0, 10)) || recorded != 1 {
			t.Fatalf("withdraw: %v %v %d", err, at, recorded)
		}
		if _, err := s.WithdrawConsent(ctx, tn, u.ID, nil); !errors.Is(err, accounts.ErrNoWithdrawal) {
			t.Fatalf("withdrawn twice: %v", err)
		}
		if got, _ := s.ByID(ctx, tn.ID, u.ID); !got.ClosingAt.Time.Equal(at) {
			t.Fatalf("closing day kept: %v", got.ClosingAt)
		}
		// Not due yet: nothing closes.
		if _, _, err := s.CloseWithdrawn(ctx, tn, u.ID, 30); !errors.Is(err, accounts.ErrNoWithdrawal) {
			t.Fatalf("closed before the day: %v", err)
		}
		// Given again: the closing is cancelled, and the day that comes closes nothing.
		if err := s.RestoreConsent(ctx, tn, u.ID, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.RestoreConsent(ctx, tn, u.ID, nil); !errors.Is(err, accounts.ErrNoWithdrawal) {
			t.Fatalf("restored twice: %v", err)
		}
		now = now.AddDate(0, 0, 11)
		if _, _, err := s.CloseWithdrawn(ctx, tn, u.ID, 30); !errors.Is(err, accounts.ErrNoWithdrawal) {
			t.Fatalf("closed after the consent was given again: %v", err)
		}
		if due, _ := s.ClosingDue(ctx, tn.ID); len(due) != 0 {
			t.Fatalf("due after a restore: %d", len(due))
		}
		// Withdrawn again and left: on the day, eight closers race; one closes.
		at, err = s.WithdrawConsent(ctx, tn, u.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		now = at
		if due, _ := s.ClosingDue(ctx, tn.ID); len(due) != 1 || due[0].ID != u.ID {
			t.Fatalf("due on the day: %+v", due)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		closed := 0
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cl, gone, err := s.CloseWithdrawn(ctx, tn, u.ID, 30)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					closed++
					if cl.Reason != accounts.ReasonConsentWithdrawn || gone.Email != "w@example.org" || !cl.AppealUntil.Equal(now.AddDate(0, 0, 30)) {
						t.Errorf("closure: %+v", cl)
					}
				case !errors.Is(err, accounts.ErrNoWithdrawal) && !errors.Is(err, accounts.ErrNotFound):
					t.Errorf("a closer: %v", err)
				}
			}()
		}
		wg.Wait()
		if closed != 1 {
			t.Fatalf("closed %d times", closed)
		}
		if _, err := s.ByID(ctx, tn.ID, u.ID); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("the account is still there: %v", err)
		}
		if n := len(events); n != 1 || events[0] != accounts.EventDeleted+":"+u.ID {
			t.Fatalf("events: %v", events)
		}
		if err := s.RestoreConsent(ctx, tn, u.ID, nil); !errors.Is(err, accounts.ErrNoWithdrawal) {
			t.Fatalf("restored after the closing: %v", err)
		}
	})
}

// E2, P2: a dependant's national number is the tenant's country's, checked, and encodes his
// date of birth; where the tenant requires it, his permanent address, sex and nationality are
// given. An adult with full capacity is no dependant.
func TestDependantIdentityE2(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		s, tn := setup(t, b)
		ctx := context.Background()
		now := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
		s.Now = func() time.Time { return now }
		tn.Settings.Country = "SK"
		holder, err := s.CreateActive(ctx, tn, "h@example.org", "long enough pw", "Holder", "1980-01-01", "fr")
		if err != nil {
			t.Fatal(err)
		}
		child := accounts.DependantInput{FirstName: "Eva", LastName: "Nová", BirthDate: "2008-12-14", NationalID: "086215/0003",
			Relationship: "parent", LegalStatus: accounts.LegalMinor, Consent: true}
		_, err = s.AddDependant(ctx, tn, holder.ID, child)
		if got := fieldErr(t, err, "national_id"); got != "form.natid.birth_mismatch" {
			t.Fatalf("another birth date: %q", got)
		}
		bad := child
		bad.NationalID = "0862150004"
		if _, err := s.AddDependant(ctx, tn, holder.ID, bad); fieldErr(t, err, "national_id") != "form.natid.SK.checksum" {
			t.Fatalf("a wrong check digit: %v", err)
		}
		setRules(tn, map[string]any{accounts.RuleDependantIdentity: true})
		child.BirthDate = "2008-12-15"
		_, err = s.AddDependant(ctx, tn, holder.ID, child)
		for _, f := range []string{"permanent_address", "sex", "nationality"} {
			if fieldErr(t, err, f) != "form.required" {
				t.Fatalf("%s not required: %v", f, err)
			}
		}
		child.Address, child.Sex, child.Nationality = "Lipová 12, 811 01 Bratislava", "female", "slovenská"
		d, err := s.AddDependant(ctx, tn, holder.ID, child)
		if err != nil || d.NationalID != "0862150003" {
			t.Fatalf("a complete dependant: %v %+v", err, d)
		}
		adult := child
		adult.BirthDate, adult.NationalID = "1990-02-03", ""
		if _, err := s.AddDependant(ctx, tn, holder.ID, adult); fieldErr(t, err, "birth_date") != "account.dependants.of_age" {
			t.Fatalf("an adult with full capacity: %v", err)
		}
	})
}

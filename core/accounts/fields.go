package accounts

import (
	"slices"
	"time"

	"carenet.dev/platform/core/form"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/plugins/kit/country"
	"carenet.dev/platform/plugins/kit/natid"
)

// Registration field types beyond text, date and tel (E2): a choice of sex and a choice of
// country (a permanent address's country, a nationality), each kept as a code and shown in
// the reader's language.
const (
	FieldSex     = "sex"
	FieldCountry = "country"
)

// Capacity and majority rules of registration (E2 [003 I.6.20]).
const (
	// RuleMajorityByMarriageAge, when above 0, lets a person from that age up to the
	// minimum age register by declaring that he came of age earlier by marriage (the
	// declaration is recorded with the account); 0: nobody under the minimum age registers.
	RuleMajorityByMarriageAge = "account.majority_by_marriage_age"
	// RuleCapacityDeclaration asks every person who registers to declare his full legal
	// capacity (a required box; the declaration is recorded with the account).
	RuleCapacityDeclaration = "account.capacity_declaration"
)

// Declarations recorded with an account (as consents of these kinds, granted at
// registration).
const (
	DeclarationMarriage = "declaration_majority_by_marriage"
	DeclarationCapacity = "declaration_full_capacity"
)

// checkChoice checks a choice field's value; it returns the message id of the problem.
func checkChoice(typ, v string) string {
	switch typ {
	case FieldSex:
		if !slices.Contains(Sexes, v) {
			return "form.invalid_choice"
		}
	case FieldCountry:
		if !country.Valid(v) {
			return "form.invalid_choice"
		}
	}
	return ""
}

// checkNationalID checks a national number typed with a date of birth (E2, C3): valid for the
// tenant's country, and encoding the date of birth typed (the French NIR encodes only the
// year and month: those must match). It returns the number as natid writes it, or the
// message id of the problem.
// nationalIDSexError is the message id saying the sex chosen is not the one the national
// number encodes (a rodné číslo, a PESEL and a NIR each say it), or "".
func nationalIDSexError(t *tenancy.Tenant, number, sex string, now time.Time) string {
	if number == "" || sex == "" {
		return ""
	}
	id, err := natid.Parse(t.Settings.Country, number, now)
	if err != nil || id.Sex == "" || id.Sex == sex {
		return ""
	}
	return "form.natid.sex_mismatch"
}

func checkNationalID(t *tenancy.Tenant, v, birthDate string, now time.Time) (string, string) {
	id, key := natid.Check(t.Settings.Country, v, now)
	if key != "" {
		return "", key
	}
	if birthDate != "" {
		b, err := time.Parse("2006-01-02", birthDate)
		if err == nil && !sameBirth(t.Settings.Country, id.Born, b) {
			return "", "form.natid.birth_mismatch"
		}
	}
	return id.Number, ""
}

func sameBirth(country string, encoded, typed time.Time) bool {
	if country == "FR" {
		return encoded.Year() == typed.Year() && encoded.Month() == typed.Month()
	}
	return encoded.Format("2006-01-02") == typed.Format("2006-01-02")
}

// checkAge checks the age of a person registering (E2): the tenant's minimum age, or, where
// the tenant allows it, the declaration of majority by marriage from the age it sets; and
// the declaration of full legal capacity where the tenant asks it.
func checkAge(t *tenancy.Tenant, errs form.Errors, age int64, in *RegisterInput) {
	if age < t.IntRule("account.min_age") {
		marriage := t.IntRule(RuleMajorityByMarriageAge)
		switch {
		case marriage <= 0 || age < marriage:
			errs.Add("birth_date", "account.register.too_young")
		case !in.MarriageDeclared:
			errs.Add("declare_marriage", "account.register.marriage_required")
		}
	} else {
		// Of age already: a declaration of marriage says nothing more.
		in.MarriageDeclared = false
	}
}

// checkCapacity checks the declaration of full legal capacity where the tenant asks it.
func checkCapacity(t *tenancy.Tenant, errs form.Errors, in *RegisterInput) {
	if t.BoolRule(RuleCapacityDeclaration) && !in.CapacityDeclared {
		errs.Add("declare_capacity", "account.register.capacity_required")
	}
}

// Declarations are the declarations a checked registration records with the account.
func (in *RegisterInput) Declarations(t *tenancy.Tenant) []string {
	var out []string
	if in.MarriageDeclared {
		out = append(out, DeclarationMarriage)
	}
	if in.CapacityDeclared && t.BoolRule(RuleCapacityDeclaration) {
		out = append(out, DeclarationCapacity)
	}
	return out
}

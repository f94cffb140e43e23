package eshop

import (
	"carenet.dev/platform/plugins/sdk"
)

// Price is what one test or package costs in an order (E1, E6): the catalog price, the VAT
// rate it includes (0: exempt), and the handling fee with its VAT that follows it.
type Price struct {
	PriceMinor    int64
	VATPercent    int
	FeeMinor      int64
	FeeVATPercent int
}

// Gross is the price and the fee together.
func (p Price) Gross() int64 { return p.PriceMinor + p.FeeMinor }

// linePrice is the price of item it today under tenant t's rules (E1): the catalog price,
// VAT at the tenant's rate when the item is marked, and the tenant's handling fee.
func linePrice(t sdk.Tenant, it *Item) Price {
	vat := int(vatPercent.Of(t))
	p := Price{PriceMinor: it.PriceMinor, FeeMinor: handlingFeeMinor.Of(t), FeeVATPercent: vat}
	if it.VATIncluded {
		p.VATPercent = vat
	}
	return p
}

// vatIn is the VAT included in a gross amount at pct percent, rounded half up to the cent.
func vatIn(gross int64, pct int) int64 {
	if pct <= 0 || gross <= 0 {
		return 0
	}
	return (gross*int64(pct)*2 + int64(100+pct)) / (int64(100+pct) * 2)
}

// minAge is the age, in years, from which a person may have item it done (E1, E2): the
// lower rule for items marked suitable, the default one otherwise.
func minAge(t sdk.Tenant, it *Item) int {
	if it.SuitableFrom6 {
		return int(minAgeSuitable.Of(t))
	}
	return int(minAgeDefault.Of(t))
}

package billing

import (
	"encoding/xml"
	"fmt"
	"strings"
)

// Factur-X (B5, e-invoices): the invoice's data as a UN/CEFACT Cross Industry Invoice
// (D16B) in the EN 16931 profile, embedded in its PDF/A-3 as factur-x.xml and declared in
// the PDF's XMP metadata.

const (
	facturXName      = "factur-x.xml"
	en16931Guideline = "urn:cen.eu:en16931:2017"
	typeInvoice      = "380"
	typeCreditNote   = "381"
)

// ciiTexts are the sentences the XML carries in the invoice's language: the payment means
// and terms, and the mentions Code de commerce L441-10 requires (the French subject codes:
// PMD late-payment penalties, PMT the flat recovery fee, AAB no early-payment discount).
type ciiTexts struct {
	PaymentMeans, Terms                string
	Penalties, RecoveryFee, NoDiscount string
}

// ciiInvoice writes inv's CII XML.
func ciiInvoice(inv *Invoice, p Parties, f *docFigures, number string, tx ciiTexts) ([]byte, error) {
	amt := plainAmount
	date := func(d Date) string { return fmt.Sprintf("%04d%02d%02d", d.Y, int(d.M), d.D) }
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	e := func(s string) string {
		var x strings.Builder
		_ = xml.EscapeText(&x, []byte(s))
		return x.String()
	}
	typ := typeInvoice
	if f.CreditNote {
		typ = typeCreditNote
	}
	w(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	w(`<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100" xmlns:qdt="urn:un:unece:uncefact:data:standard:QualifiedDataType:100" xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100" xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100">` + "\n")
	w(`<rsm:ExchangedDocumentContext><ram:GuidelineSpecifiedDocumentContextParameter><ram:ID>%s</ram:ID></ram:GuidelineSpecifiedDocumentContextParameter></rsm:ExchangedDocumentContext>`+"\n", en16931Guideline)
	w(`<rsm:ExchangedDocument><ram:ID>%s</ram:ID><ram:TypeCode>%s</ram:TypeCode><ram:IssueDateTime><udt:DateTimeString format="102">%s</udt:DateTimeString></ram:IssueDateTime>`, e(number), typ, date(inv.IssuedOn))
	if !f.CreditNote {
		for _, n := range [][2]string{{tx.Penalties, "PMD"}, {tx.RecoveryFee, "PMT"}, {tx.NoDiscount, "AAB"}} {
			w(`<ram:IncludedNote><ram:Content>%s</ram:Content><ram:SubjectCode>%s</ram:SubjectCode></ram:IncludedNote>`, e(n[0]), n[1])
		}
	}
	w("</rsm:ExchangedDocument>\n<rsm:SupplyChainTradeTransaction>\n")
	for _, l := range f.Lines {
		w(`<ram:IncludedSupplyChainTradeLineItem><ram:AssociatedDocumentLineDocument><ram:LineID>%d</ram:LineID></ram:AssociatedDocumentLineDocument>`, l.Pos)
		w(`<ram:SpecifiedTradeProduct><ram:Name>%s</ram:Name></ram:SpecifiedTradeProduct>`, e(l.Description))
		w(`<ram:SpecifiedLineTradeAgreement><ram:NetPriceProductTradePrice><ram:ChargeAmount>%s</ram:ChargeAmount></ram:NetPriceProductTradePrice></ram:SpecifiedLineTradeAgreement>`, amt(l.UnitMinor))
		w(`<ram:SpecifiedLineTradeDelivery><ram:BilledQuantity unitCode="C62">%d</ram:BilledQuantity></ram:SpecifiedLineTradeDelivery>`, l.Quantity)
		w(`<ram:SpecifiedLineTradeSettlement>%s<ram:SpecifiedTradeSettlementLineMonetarySummation><ram:LineTotalAmount>%s</ram:LineTotalAmount></ram:SpecifiedTradeSettlementLineMonetarySummation></ram:SpecifiedLineTradeSettlement>`,
			lineTax(l.VATPercent), amt(l.AmountMinor))
		w("</ram:IncludedSupplyChainTradeLineItem>\n")
	}
	w("<ram:ApplicableHeaderTradeAgreement>")
	w("<ram:SellerTradeParty>%s</ram:SellerTradeParty>", party(p.Seller, e))
	w("<ram:BuyerTradeParty>%s</ram:BuyerTradeParty>", party(p.Buyer, e))
	if p.SubscriptionRef != "" {
		w("<ram:ContractReferencedDocument><ram:IssuerAssignedID>%s</ram:IssuerAssignedID></ram:ContractReferencedDocument>", e(p.SubscriptionRef))
	}
	w("</ram:ApplicableHeaderTradeAgreement>\n<ram:ApplicableHeaderTradeDelivery/>\n<ram:ApplicableHeaderTradeSettlement>")
	debit := !f.CreditNote && f.PaymentMethod == payDebit
	if debit && f.CreditorID != "" {
		w("<ram:CreditorReferenceID>%s</ram:CreditorReferenceID>", e(f.CreditorID))
	}
	w("<ram:PaymentReference>%s</ram:PaymentReference><ram:InvoiceCurrencyCode>%s</ram:InvoiceCurrencyCode>", e(number), e(f.Currency))
	if !f.CreditNote {
		w("<ram:SpecifiedTradeSettlementPaymentMeans>")
		switch f.PaymentMethod {
		case payDebit:
			w("<ram:TypeCode>59</ram:TypeCode><ram:Information>%s</ram:Information>", e(tx.PaymentMeans))
		case payCheque:
			w("<ram:TypeCode>20</ram:TypeCode><ram:Information>%s</ram:Information>", e(tx.PaymentMeans))
		default:
			if f.IBAN == "" { // no account to give (BR-61): the means is not said
				w("<ram:TypeCode>1</ram:TypeCode><ram:Information>%s</ram:Information>", e(tx.PaymentMeans))
				break
			}
			w("<ram:TypeCode>58</ram:TypeCode><ram:Information>%s</ram:Information><ram:PayeePartyCreditorFinancialAccount><ram:IBANID>%s</ram:IBANID></ram:PayeePartyCreditorFinancialAccount>",
				e(tx.PaymentMeans), e(strings.ReplaceAll(f.IBAN, " ", "")))
			if f.BIC != "" {
				w("<ram:PayeeSpecifiedCreditorFinancialInstitution><ram:BICID>%s</ram:BICID></ram:PayeeSpecifiedCreditorFinancialInstitution>", e(f.BIC))
			}
		}
		w("</ram:SpecifiedTradeSettlementPaymentMeans>")
	}
	for _, g := range f.VAT {
		cat, reason := vatCategory(g.Percent)
		w("<ram:ApplicableTradeTax><ram:CalculatedAmount>%s</ram:CalculatedAmount><ram:TypeCode>VAT</ram:TypeCode>%s<ram:BasisAmount>%s</ram:BasisAmount><ram:CategoryCode>%s</ram:CategoryCode><ram:RateApplicablePercent>%d</ram:RateApplicablePercent></ram:ApplicableTradeTax>",
			amt(g.VATMinor), reason, amt(g.BaseMinor), cat, g.Percent)
	}
	w(`<ram:BillingSpecifiedPeriod><ram:StartDateTime><udt:DateTimeString format="102">%s</udt:DateTimeString></ram:StartDateTime><ram:EndDateTime><udt:DateTimeString format="102">%s</udt:DateTimeString></ram:EndDateTime></ram:BillingSpecifiedPeriod>`,
		date(inv.PeriodStart), date(inv.PeriodEnd))
	w("<ram:SpecifiedTradePaymentTerms><ram:Description>%s</ram:Description>", e(tx.Terms))
	if !f.CreditNote && !inv.DueOn.IsZero() {
		w(`<ram:DueDateDateTime><udt:DateTimeString format="102">%s</udt:DateTimeString></ram:DueDateDateTime>`, date(inv.DueOn))
	}
	if debit {
		w("<ram:DirectDebitMandateID>%s</ram:DirectDebitMandateID>", e(f.MandateRef))
	}
	w("</ram:SpecifiedTradePaymentTerms>")
	w(`<ram:SpecifiedTradeSettlementHeaderMonetarySummation><ram:LineTotalAmount>%s</ram:LineTotalAmount><ram:TaxBasisTotalAmount>%s</ram:TaxBasisTotalAmount><ram:TaxTotalAmount currencyID="%s">%s</ram:TaxTotalAmount><ram:GrandTotalAmount>%s</ram:GrandTotalAmount><ram:DuePayableAmount>%s</ram:DuePayableAmount></ram:SpecifiedTradeSettlementHeaderMonetarySummation>`,
		amt(f.Net), amt(f.Net), e(f.Currency), amt(f.Tax), amt(f.Total), amt(f.Total))
	if f.CreditNote && f.CreditedNumber != "" {
		w("<ram:InvoiceReferencedDocument><ram:IssuerAssignedID>%s</ram:IssuerAssignedID>", e(f.CreditedNumber))
		if !f.CreditedIssuedOn.IsZero() {
			w(`<ram:FormattedIssueDateTime><qdt:DateTimeString format="102">%s</qdt:DateTimeString></ram:FormattedIssueDateTime>`, date(f.CreditedIssuedOn))
		}
		w("</ram:InvoiceReferencedDocument>")
	}
	w("</ram:ApplicableHeaderTradeSettlement>\n</rsm:SupplyChainTradeTransaction>\n</rsm:CrossIndustryInvoice>\n")
	return []byte(b.String()), nil
}

// vatCategory is the EN 16931 VAT category of a rate (S standard; a rate of 0 is exempt,
// E, which needs a reason) and, for E, the reason element.
func vatCategory(pct int) (string, string) {
	if pct == 0 {
		return "E", "<ram:ExemptionReason>Exonération de TVA</ram:ExemptionReason>"
	}
	return "S", ""
}

func lineTax(pct int) string {
	cat, _ := vatCategory(pct)
	return fmt.Sprintf("<ram:ApplicableTradeTax><ram:TypeCode>VAT</ram:TypeCode><ram:CategoryCode>%s</ram:CategoryCode><ram:RateApplicablePercent>%d</ram:RateApplicablePercent></ram:ApplicableTradeTax>", cat, pct)
}

// party is a trade party's content: name, additional legal information (the register
// entry), legal registration (SIRET scheme 0009, SIREN 0002), address, e-mail, VAT id.
func party(pt Party, e func(string) string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<ram:Name>%s</ram:Name>", e(pt.Name))
	if pt.Registration != "" {
		fmt.Fprintf(&b, "<ram:Description>%s</ram:Description>", e(pt.Registration))
	}
	if pt.LegalID == "" {
		// A register entry ("RCS Paris 812 345 678") gives the SIREN it holds.
		var d strings.Builder
		for _, r := range pt.Registration {
			if r >= '0' && r <= '9' {
				d.WriteRune(r)
			}
		}
		if n := d.Len(); n == 9 || n == 14 {
			pt.LegalID = d.String()
		}
	}
	if pt.LegalID != "" {
		scheme := ""
		switch d := digitsOnly(pt.LegalID); len(d) {
		case 14:
			scheme = ` schemeID="0009"`
		case 9:
			scheme = ` schemeID="0002"`
		}
		id := pt.LegalID
		if d := digitsOnly(pt.LegalID); d != "" {
			id = d
		}
		fmt.Fprintf(&b, "<ram:SpecifiedLegalOrganization><ram:ID%s>%s</ram:ID></ram:SpecifiedLegalOrganization>", scheme, e(id))
	}
	b.WriteString("<ram:PostalTradeAddress>")
	if pt.Postcode != "" {
		fmt.Fprintf(&b, "<ram:PostcodeCode>%s</ram:PostcodeCode>", e(pt.Postcode))
	}
	if pt.Street != "" {
		fmt.Fprintf(&b, "<ram:LineOne>%s</ram:LineOne>", e(pt.Street))
	}
	if pt.City != "" {
		fmt.Fprintf(&b, "<ram:CityName>%s</ram:CityName>", e(pt.City))
	}
	country := pt.Country
	if country == "" {
		country = "FR"
	}
	fmt.Fprintf(&b, "<ram:CountryID>%s</ram:CountryID></ram:PostalTradeAddress>", e(country))
	if pt.Email != "" {
		fmt.Fprintf(&b, `<ram:URIUniversalCommunication><ram:URIID schemeID="EM">%s</ram:URIID></ram:URIUniversalCommunication>`, e(pt.Email))
	}
	if pt.VATID != "" {
		fmt.Fprintf(&b, `<ram:SpecifiedTaxRegistration><ram:ID schemeID="VA">%s</ram:ID></ram:SpecifiedTaxRegistration>`, e(strings.ReplaceAll(pt.VATID, " ", "")))
	}
	return b.String()
}

// facturXMP is the XMP a Factur-X PDF declares itself with: the PDF/A extension schema of
// the fx namespace, and its values (an invoice, its file name, version 1.0, profile
// EN 16931).
func facturXMP() []string {
	prop := func(name, desc string) string {
		return `<rdf:li rdf:parseType="Resource"><pdfaProperty:name>` + name + `</pdfaProperty:name><pdfaProperty:valueType>Text</pdfaProperty:valueType><pdfaProperty:category>external</pdfaProperty:category><pdfaProperty:description>` + desc + `</pdfaProperty:description></rdf:li>`
	}
	ext := `<rdf:Description rdf:about="" xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/" xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#" xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">` +
		`<pdfaExtension:schemas><rdf:Bag><rdf:li rdf:parseType="Resource">` +
		`<pdfaSchema:schema>Factur-X PDFA Extension Schema</pdfaSchema:schema>` +
		`<pdfaSchema:namespaceURI>urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#</pdfaSchema:namespaceURI>` +
		`<pdfaSchema:prefix>fx</pdfaSchema:prefix><pdfaSchema:property><rdf:Seq>` +
		prop("DocumentFileName", "The name of the embedded XML document") +
		prop("DocumentType", "The type of the hybrid document in capital letters, e.g. INVOICE or ORDER") +
		prop("Version", "The actual version of the standard applying to the embedded XML document") +
		prop("ConformanceLevel", "The conformance level of the embedded XML document") +
		`</rdf:Seq></pdfaSchema:property></rdf:li></rdf:Bag></pdfaExtension:schemas></rdf:Description>`
	fx := `<rdf:Description rdf:about="" xmlns:fx="urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#">` +
		`<fx:DocumentType>INVOICE</fx:DocumentType><fx:DocumentFileName>` + facturXName + `</fx:DocumentFileName>` +
		`<fx:Version>1.0</fx:Version><fx:ConformanceLevel>EN 16931</fx:ConformanceLevel></rdf:Description>`
	return []string{ext, fx}
}

-- B5: a credit note the firm issues against an invoice lowers that invoice's amount due
-- (total_minor - paid_minor - credited_minor): credited_minor is the sum of its credit
-- notes' totals (TTC, positive), raised by a guarded update like a payment.
ALTER TABLE billing_invoices ADD COLUMN credited_minor INTEGER NOT NULL DEFAULT 0;

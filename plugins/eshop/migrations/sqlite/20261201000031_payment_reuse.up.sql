-- E5: one pending payment per order or voucher purchase — the pay button and the invitation's
-- link followed twice reuse it (its gateway address is kept); older duplicates are closed.
ALTER TABLE eshop_payments ADD COLUMN redirect_url TEXT NOT NULL DEFAULT '';
UPDATE eshop_payments SET status = 'failed'
WHERE status = 'pending' AND EXISTS (
    SELECT 1 FROM eshop_payments AS p2
    WHERE p2.tenant_id = eshop_payments.tenant_id AND p2.purpose = eshop_payments.purpose AND p2.ref_id = eshop_payments.ref_id
      AND p2.status = 'pending' AND (p2.created_at > eshop_payments.created_at OR (p2.created_at = eshop_payments.created_at AND p2.id > eshop_payments.id)));
CREATE UNIQUE INDEX eshop_payments_one_pending ON eshop_payments (tenant_id, purpose, ref_id) WHERE status = 'pending';

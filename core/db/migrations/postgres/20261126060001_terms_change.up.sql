-- What kind of change a terms version brings (general, new fees, closing the service): each
-- kind has its own notice period, a tenant rule (P6).
ALTER TABLE terms_versions ADD COLUMN change TEXT NOT NULL DEFAULT 'general';

-- C6: the confirmation link of an anonymous booking. Only the SHA-256 of its random token
-- is kept; the link confirms once (used_at) and only before the hold ends (expires_at).
CREATE TABLE calendar_confirm_tokens (
    tenant_id  TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    booking_id TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ NULL,
    PRIMARY KEY (tenant_id, token_hash)
);
CREATE INDEX calendar_confirm_tokens_booking ON calendar_confirm_tokens (tenant_id, booking_id);

-- A booking's confirmation carries a cancel link (C7): a random token of which only the
-- hash is kept, used once (a guarded update), valid until the visit starts.
CREATE TABLE calendar_cancel_links (
    tenant_id  TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    booking_id TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, token_hash)
);
--bun:split
CREATE INDEX calendar_cancel_links_booking ON calendar_cancel_links (tenant_id, booking_id);
--bun:split
-- A reminder is sent once per booking (C7): the durable job and the sweep both claim this
-- row first, and only the one that inserted it sends.
CREATE TABLE calendar_reminders (
    tenant_id  TEXT NOT NULL,
    booking_id TEXT NOT NULL,
    sent_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, booking_id)
);
--bun:split
-- A doctor's agenda feed behind a secret URL (issue 13.6): one per doctor account, the
-- token's hash only; rotating replaces it, and the old URL finds nothing.
CREATE TABLE calendar_feeds (
    tenant_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    UNIQUE (tenant_id, token_hash)
);

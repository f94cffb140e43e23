-- B4, B7, B8: the contract part. A tariff's notice sent to each live subscription (the day
-- it went out starts the client's refusal delay), the refusals the clerk records from the
-- client's registered letters, and the terminations by either party.

-- B4: one notice per tariff and subscription (announcing twice sends nothing twice).
CREATE TABLE billing_tariff_notices (
    tenant_id       TEXT NOT NULL,
    tariff_id       TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    old_tariff_id   TEXT NOT NULL DEFAULT '',
    notified_on     TEXT NOT NULL,
    message_id      TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, tariff_id, subscription_id)
);
CREATE INDEX billing_tariff_notices_sub ON billing_tariff_notices (tenant_id, subscription_id);

-- B4: a client's refusal of a new tariff, by registered letter: its postmark day (it counts,
-- not the receipt) and reference; what it led to (the tenant's rule at the time) and the end
-- day it fixed; withdrawn_at is set when the clerk withdrew the termination it caused (the
-- client accepted the tariff after all). One refusal per tariff and subscription.
CREATE TABLE billing_tariff_refusals (
    tenant_id       TEXT NOT NULL,
    id              TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    tariff_id       TEXT NOT NULL,
    posted_on       TEXT NOT NULL,
    reference       TEXT NOT NULL,
    outcome         TEXT NOT NULL,
    ends_on         TEXT NOT NULL,
    withdrawn_at    TIMESTAMP NULL,
    created_by      TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, subscription_id, tariff_id),
    CHECK (outcome IN ('keep_until_end', 'terminate'))
);

-- B8 (and B4, B6): what ends a subscription. reason: the client's or the firm's registered
-- letter, a refused tariff, or another part's cause (unpaid). sent_on/received_on: the
-- letter's sending day and the day it was received (the notice runs from receipt). state:
-- active until the end passed (done), or withdrawn by the clerk before it, or superseded by an
-- earlier end. One active termination per subscription.
CREATE TABLE billing_terminations (
    tenant_id       TEXT NOT NULL,
    id              TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    reason          TEXT NOT NULL,
    sent_on         TEXT NOT NULL DEFAULT '',
    received_on     TEXT NOT NULL DEFAULT '',
    reference       TEXT NOT NULL DEFAULT '',
    ends_on         TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'active',
    withdrawn_by    TEXT NOT NULL DEFAULT '',
    withdrawn_at    TIMESTAMP NULL,
    created_by      TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (state IN ('active', 'withdrawn', 'superseded', 'done')),
    CHECK (ends_on <> '')
);
CREATE UNIQUE INDEX billing_terminations_active ON billing_terminations (tenant_id, subscription_id) WHERE state = 'active';
CREATE INDEX billing_terminations_sub ON billing_terminations (tenant_id, subscription_id, created_at);

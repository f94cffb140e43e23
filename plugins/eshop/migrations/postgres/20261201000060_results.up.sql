-- E10: a sample registered at the lab for one order item, then its result. The order item's
-- id is the key, so a sample is registered once whatever the concurrency. due_on is the
-- turnaround time's last working day; claim_until the last day a late result may be claimed
-- (E10). user_id is cleared when the account is deleted: the result is health documentation
-- and is kept, with the person's name, until keep_until (E13).
CREATE TABLE eshop_results (
    tenant_id     TEXT NOT NULL,
    item_id       TEXT NOT NULL,
    order_id      TEXT NOT NULL,
    order_number  TEXT NOT NULL DEFAULT '',
    user_id       TEXT NOT NULL DEFAULT '',
    person_name   TEXT NOT NULL DEFAULT '',
    test_name     TEXT NOT NULL DEFAULT '',
    price_minor   BIGINT NOT NULL DEFAULT 0,
    currency      TEXT NOT NULL DEFAULT '',
    registered_at TIMESTAMPTZ NOT NULL,
    registered_by TEXT NOT NULL DEFAULT '',
    due_on        TEXT NOT NULL,
    published_at  TIMESTAMPTZ NULL,
    published_by  TEXT NOT NULL DEFAULT '',
    blob_id       TEXT NOT NULL DEFAULT '',
    late          BOOLEAN NOT NULL DEFAULT FALSE,
    claim_until   TEXT NOT NULL DEFAULT '',
    critical      BOOLEAN NOT NULL DEFAULT FALSE,
    detached_at   TIMESTAMPTZ NULL,
    keep_until    TIMESTAMPTZ NULL,
    PRIMARY KEY (tenant_id, item_id)
);
CREATE INDEX eshop_results_user ON eshop_results (tenant_id, user_id, published_at);
CREATE INDEX eshop_results_keep ON eshop_results (tenant_id, keep_until);

-- The key the SMS links to a result are signed with, one per tenant (E10).
CREATE TABLE eshop_result_keys (
    tenant_id  TEXT NOT NULL,
    secret     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id)
);

-- E10: a claim for the late-result discount; one per result (the key holds it).
CREATE TABLE eshop_result_claims (
    tenant_id       TEXT NOT NULL,
    id              TEXT NOT NULL,
    result_id       TEXT NOT NULL,
    user_id         TEXT NOT NULL DEFAULT '',
    state           TEXT NOT NULL,
    percent         BIGINT NOT NULL,
    amount_minor    BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    note            TEXT NOT NULL DEFAULT '',
    decision_reason TEXT NOT NULL DEFAULT '',
    claimed_at      TIMESTAMPTZ NOT NULL,
    decided_at      TIMESTAMPTZ NULL,
    decided_by      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, result_id),
    CHECK (state IN ('pending', 'accepted', 'refused')),
    CHECK (amount_minor >= 0)
);
CREATE INDEX eshop_result_claims_state ON eshop_result_claims (tenant_id, state, claimed_at);

-- A critical value: each contact staff made with the customer (who, when, how, outcome).
CREATE TABLE eshop_critical_contacts (
    tenant_id  TEXT NOT NULL,
    id         TEXT NOT NULL,
    result_id  TEXT NOT NULL,
    staff_id   TEXT NOT NULL,
    staff_name TEXT NOT NULL DEFAULT '',
    at         TIMESTAMPTZ NOT NULL,
    channel    TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    note       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, id),
    CHECK (channel IN ('phone', 'sms')),
    CHECK (outcome IN ('reached', 'no_answer', 'message_left', 'sms_sent', 'sms_not_sent'))
);
CREATE INDEX eshop_critical_contacts_result ON eshop_critical_contacts (tenant_id, result_id, at);

-- E12: a complaint about an order's quality or price, lodged in the core's queue
-- (complaint_id, reference), with the day the defect was discovered, the day it was lodged
-- (a letter's or an e-mail's, entered by staff), and the remedy the lab chose.
CREATE TABLE eshop_complaints (
    tenant_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
    complaint_id  TEXT NOT NULL,
    reference     TEXT NOT NULL DEFAULT '',
    order_id      TEXT NOT NULL,
    order_number  TEXT NOT NULL DEFAULT '',
    user_id       TEXT NOT NULL DEFAULT '',
    about         TEXT NOT NULL,
    channel       TEXT NOT NULL,
    discovered_on TEXT NOT NULL,
    lodged_on     TEXT NOT NULL,
    due_at        TIMESTAMPTZ NOT NULL,
    entered_by    TEXT NOT NULL DEFAULT '',
    remedy        TEXT NOT NULL DEFAULT '',
    remedy_note   TEXT NOT NULL DEFAULT '',
    remedied_at   TIMESTAMPTZ NULL,
    remedied_by   TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, complaint_id),
    CHECK (about IN ('quality', 'price')),
    CHECK (channel IN ('web', 'letter', 'email')),
    CHECK (remedy IN ('', 'repair', 'repeat', 'refund'))
);

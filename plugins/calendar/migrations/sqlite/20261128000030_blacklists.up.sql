-- Blacklists (C12, C13). A doctor's list bars a patient (by PESEL) from booking with that
-- doctor, on one of three grounds; the portal's list bars him from booking anywhere. A
-- monthly job only proposes entries (status "proposed"); the doctor, or for the portal's
-- list the administrator (unless the tenant lets the job apply it), decides. One open entry
-- (proposed or active) per doctor and PESEL, and per PESEL on the portal's list.
CREATE TABLE calendar_blacklist (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    doctor_id   TEXT NOT NULL,
    pesel       TEXT NOT NULL,
    patient     TEXT NOT NULL DEFAULT '',
    ground      TEXT NOT NULL,
    booking_id  TEXT NOT NULL DEFAULT '',
    month       TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL,
    created_by  TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL,
    decided_at  TIMESTAMP NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (ground IN ('cancellations', 'terms_breach', 'law_breach')),
    CHECK (status IN ('proposed', 'active', 'rejected', 'removed')),
    CHECK (ground = 'cancellations' OR booking_id <> '')
);
CREATE UNIQUE INDEX calendar_blacklist_open ON calendar_blacklist (tenant_id, doctor_id, pesel) WHERE status IN ('proposed', 'active');
CREATE INDEX calendar_blacklist_pesel ON calendar_blacklist (tenant_id, pesel, status);

CREATE TABLE calendar_portal_blacklist (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    pesel       TEXT NOT NULL,
    ground      TEXT NOT NULL,
    month       TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL,
    created_by  TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL,
    decided_at  TIMESTAMP NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (ground IN ('doctors', 'cancellations', 'gross_breach')),
    CHECK (status IN ('proposed', 'active', 'rejected', 'removed'))
);
CREATE UNIQUE INDEX calendar_portal_blacklist_open ON calendar_portal_blacklist (tenant_id, pesel) WHERE status IN ('proposed', 'active');

-- Requests for removal from a list, each with the date by which it must be decided (the
-- tenant's rule at the time it was made).
CREATE TABLE calendar_blacklist_requests (
    tenant_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
    list          TEXT NOT NULL,
    entry_id      TEXT NOT NULL,
    doctor_id     TEXT NOT NULL DEFAULT '',
    pesel         TEXT NOT NULL,
    name          TEXT NOT NULL,
    email         TEXT NOT NULL,
    user_id       TEXT NOT NULL DEFAULT '',
    justification TEXT NOT NULL,
    status        TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    due_at        TIMESTAMP NOT NULL,
    decided_at    TIMESTAMP NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (list IN ('doctor', 'portal')),
    CHECK (status IN ('open', 'granted', 'refused'))
);
CREATE INDEX calendar_blacklist_requests_due ON calendar_blacklist_requests (tenant_id, list, status, due_at);
-- One open request per entry: asking again waits for the answer to the first.
CREATE UNIQUE INDEX calendar_blacklist_requests_open ON calendar_blacklist_requests (tenant_id, entry_id) WHERE status = 'open';

-- The waitlist: a signed-in patient waits for an earlier start of a doctor's service; a
-- freed start is offered to each, and the first to claim it books it.
CREATE TABLE calendar_waitlist (
    tenant_id  TEXT NOT NULL,
    id         TEXT NOT NULL,
    doctor_id  TEXT NOT NULL,
    service_id TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    name       TEXT NOT NULL DEFAULT '',
    email      TEXT NOT NULL DEFAULT '',
    pesel      TEXT NOT NULL,
    mobile     TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX calendar_waitlist_one ON calendar_waitlist (tenant_id, doctor_id, service_id, user_id);

CREATE TABLE calendar_waitlist_offers (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    waitlist_id TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    doctor_id   TEXT NOT NULL,
    service_id  TEXT NOT NULL,
    starts_at   TIMESTAMP NOT NULL,
    booking_id  TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX calendar_waitlist_offers_user ON calendar_waitlist_offers (tenant_id, user_id);

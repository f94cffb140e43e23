-- Caring for the directory (C1): the administrator removes a doctor or a facility from the
-- directory (the record stays, out of every search and page, so that bookings stay with the
-- doctor as their controller); an import updates the facilities it owns, one per source and
-- reference; anyone reports wrong or harmful data, and the administrator works through the
-- reports; the search words of the doctors remember the synonym data they were built from.
ALTER TABLE calendar_doctors ADD COLUMN removed_at TIMESTAMP NULL;
ALTER TABLE calendar_facilities ADD COLUMN removed_at TIMESTAMP NULL;
CREATE UNIQUE INDEX calendar_facilities_import ON calendar_facilities (tenant_id, owner_kind, owner_ref) WHERE owner_ref <> '';
CREATE INDEX calendar_facilities_geo ON calendar_facilities (tenant_id, latitude, longitude) WHERE latitude IS NOT NULL;

CREATE TABLE calendar_reports (
    tenant_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
    doctor_id     TEXT NOT NULL,
    what          TEXT NOT NULL,
    details       TEXT NOT NULL,
    email         TEXT NOT NULL DEFAULT '',
    user_id       TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL DEFAULT 'open',
    resolution    TEXT NOT NULL DEFAULT '',
    note          TEXT NOT NULL DEFAULT '',
    resolved_by   TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMP NOT NULL,
    resolved_at   TIMESTAMP NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (status IN ('open', 'resolved')),
    CHECK (what IN ('wrong_data', 'harmful', 'not_practising', 'other')),
    CHECK (resolution IN ('', 'corrected', 'removed', 'dismissed'))
);
CREATE INDEX calendar_reports_queue ON calendar_reports (tenant_id, status, created_at);

CREATE TABLE calendar_directory_state (
    tenant_id  TEXT NOT NULL,
    words_hash TEXT NOT NULL,
    PRIMARY KEY (tenant_id)
);

-- The directory (C1, C2): facilities, doctors, the specialties they give visits in, where
-- they work, and the services each gives at each facility with its gross price (C4).
-- Ids are random (C1: nothing to enumerate).
CREATE TABLE calendar_facilities (
    tenant_id       TEXT NOT NULL,
    id              TEXT NOT NULL,
    name            TEXT NOT NULL,
    address         TEXT NOT NULL DEFAULT '',
    postal_code     TEXT NOT NULL DEFAULT '',
    city            TEXT NOT NULL DEFAULT '',
    city_key        TEXT NOT NULL DEFAULT '',
    latitude        DOUBLE PRECISION NULL,
    longitude       DOUBLE PRECISION NULL,
    opening_hours   TEXT NOT NULL DEFAULT '',
    phone           TEXT NOT NULL DEFAULT '',
    email           TEXT NOT NULL DEFAULT '',
    register_number TEXT NOT NULL DEFAULT '',
    owner_kind      TEXT NOT NULL DEFAULT 'operator',
    owner_ref       TEXT NOT NULL DEFAULT '',
    user_id         TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX calendar_facilities_city ON calendar_facilities (tenant_id, city_key);
CREATE INDEX calendar_facilities_user ON calendar_facilities (tenant_id, user_id);

CREATE TABLE calendar_doctors (
    tenant_id           TEXT NOT NULL,
    id                  TEXT NOT NULL,
    title               TEXT NOT NULL DEFAULT '',
    first_name          TEXT NOT NULL,
    last_name           TEXT NOT NULL,
    licence_number      TEXT NOT NULL DEFAULT '',
    description         TEXT NOT NULL DEFAULT '',
    competences         TEXT NOT NULL DEFAULT '',
    languages           TEXT NOT NULL DEFAULT '',
    bookable            BOOLEAN NOT NULL DEFAULT FALSE,
    online_calendar     BOOLEAN NOT NULL DEFAULT TRUE,
    calendar_stopped_at TIMESTAMPTZ NULL,
    owner_kind          TEXT NOT NULL DEFAULT 'operator',
    owner_ref           TEXT NOT NULL DEFAULT '',
    user_id             TEXT NOT NULL DEFAULT '',
    search_key          TEXT NOT NULL DEFAULT '',
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (owner_kind IN ('operator', 'import', 'account'))
);
CREATE INDEX calendar_doctors_name ON calendar_doctors (tenant_id, last_name, first_name);
CREATE INDEX calendar_doctors_user ON calendar_doctors (tenant_id, user_id);
-- An import updates the records it owns: one record per source and source reference.
CREATE UNIQUE INDEX calendar_doctors_import ON calendar_doctors (tenant_id, owner_kind, owner_ref) WHERE owner_ref <> '';

CREATE TABLE calendar_doctor_specialties (
    tenant_id TEXT NOT NULL,
    doctor_id TEXT NOT NULL,
    specialty TEXT NOT NULL,
    PRIMARY KEY (tenant_id, doctor_id, specialty),
    FOREIGN KEY (tenant_id, doctor_id) REFERENCES calendar_doctors (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX calendar_doctor_specialties_by ON calendar_doctor_specialties (tenant_id, specialty);

CREATE TABLE calendar_doctor_facilities (
    tenant_id   TEXT NOT NULL,
    doctor_id   TEXT NOT NULL,
    facility_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, doctor_id, facility_id),
    FOREIGN KEY (tenant_id, doctor_id) REFERENCES calendar_doctors (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, facility_id) REFERENCES calendar_facilities (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX calendar_doctor_facilities_by ON calendar_doctor_facilities (tenant_id, facility_id);

CREATE TABLE calendar_services (
    tenant_id        TEXT NOT NULL,
    id               TEXT NOT NULL,
    doctor_id        TEXT NOT NULL,
    facility_id      TEXT NOT NULL,
    name             TEXT NOT NULL,
    specialty        TEXT NOT NULL DEFAULT '',
    duration_minutes INTEGER NOT NULL,
    price_minor      BIGINT NOT NULL,
    currency         TEXT NOT NULL,
    vat_included     BOOLEAN NOT NULL DEFAULT TRUE,
    active           BOOLEAN NOT NULL DEFAULT TRUE,
    created_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, doctor_id, facility_id) REFERENCES calendar_doctor_facilities (tenant_id, doctor_id, facility_id) ON DELETE CASCADE,
    CHECK (duration_minutes > 0 AND duration_minutes % 5 = 0),
    CHECK (price_minor >= 0)
);
CREATE INDEX calendar_services_by ON calendar_services (tenant_id, doctor_id, facility_id);

-- Schedules as data (C4): weekly windows per doctor × facility, in the tenant's local time
-- (minutes from midnight, ISO weekday 1 = Monday), valid over a span of dates; and
-- exceptions (an absence, or an extra window) over instants.
CREATE TABLE calendar_windows (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    doctor_id    TEXT NOT NULL,
    facility_id  TEXT NOT NULL,
    weekday      INTEGER NOT NULL,
    start_minute INTEGER NOT NULL,
    end_minute   INTEGER NOT NULL,
    valid_from   TEXT NOT NULL DEFAULT '',
    valid_until  TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, doctor_id, facility_id) REFERENCES calendar_doctor_facilities (tenant_id, doctor_id, facility_id) ON DELETE CASCADE,
    CHECK (weekday BETWEEN 1 AND 7),
    CHECK (start_minute >= 0 AND start_minute < end_minute AND end_minute <= 1440)
);
CREATE INDEX calendar_windows_by ON calendar_windows (tenant_id, doctor_id, facility_id);

CREATE TABLE calendar_exceptions (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    doctor_id   TEXT NOT NULL,
    facility_id TEXT NOT NULL DEFAULT '',
    kind        TEXT NOT NULL,
    starts_at   TIMESTAMPTZ NOT NULL,
    ends_at     TIMESTAMPTZ NOT NULL,
    note        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, doctor_id) REFERENCES calendar_doctors (tenant_id, id) ON DELETE CASCADE,
    CHECK (kind IN ('absence', 'extra')),
    CHECK (starts_at < ends_at)
);
CREATE INDEX calendar_exceptions_by ON calendar_exceptions (tenant_id, doctor_id, starts_at);

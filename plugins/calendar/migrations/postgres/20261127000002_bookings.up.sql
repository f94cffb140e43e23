-- Bookings (C5–C9). A booking holds its doctor's time from starts_at to ends_at while it is
-- live: held, awaiting confirmation, confirmed, completed or no-show; a cancelled or expired
-- booking frees it. The patient is recognised by PESEL (C8); the terms version in force and
-- the consents given stay attached (P6), with the specialty of the visit.
CREATE TABLE calendar_bookings (
    tenant_id          TEXT NOT NULL,
    id                 TEXT NOT NULL,
    doctor_id          TEXT NOT NULL,
    facility_id        TEXT NOT NULL,
    service_id         TEXT NOT NULL,
    service_name       TEXT NOT NULL,
    specialty          TEXT NOT NULL DEFAULT '',
    price_minor        BIGINT NOT NULL,
    currency           TEXT NOT NULL,
    starts_at          TIMESTAMPTZ NOT NULL,
    ends_at            TIMESTAMPTZ NOT NULL,
    visit_day          TEXT NOT NULL,
    day_slot           INTEGER NOT NULL,
    status             TEXT NOT NULL,
    patient_first_name TEXT NOT NULL,
    patient_last_name  TEXT NOT NULL,
    pesel              TEXT NOT NULL,
    email              TEXT NOT NULL DEFAULT '',
    mobile             TEXT NOT NULL DEFAULT '',
    user_id            TEXT NOT NULL DEFAULT '',
    booked_by          TEXT NOT NULL DEFAULT '',
    for_other          BOOLEAN NOT NULL DEFAULT FALSE,
    terms_version      TEXT NOT NULL DEFAULT '',
    consents           TEXT NOT NULL DEFAULT '',
    cancel_reason      TEXT NOT NULL DEFAULT '',
    created_at         TIMESTAMPTZ NOT NULL,
    hold_expires_at    TIMESTAMPTZ NULL,
    confirmed_at       TIMESTAMPTZ NULL,
    cancelled_at       TIMESTAMPTZ NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (starts_at < ends_at),
    CHECK (status IN ('held', 'awaiting_confirmation', 'confirmed', 'cancelled_patient', 'cancelled_doctor', 'completed', 'no_show', 'expired')),
    -- C9: two live bookings of one doctor never overlap, whatever their lengths.
    CONSTRAINT calendar_bookings_no_overlap EXCLUDE USING gist (
        tenant_id WITH =, doctor_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&
    ) WHERE (status IN ('held', 'awaiting_confirmation', 'confirmed', 'completed', 'no_show'))
);
-- C8: at most the tenant's limit of live bookings per PESEL, doctor and visit day: each
-- takes one of the numbered places 1…limit of its day, and a place is taken once.
CREATE UNIQUE INDEX calendar_bookings_day_places ON calendar_bookings (tenant_id, doctor_id, pesel, visit_day, day_slot)
    WHERE status IN ('held', 'awaiting_confirmation', 'confirmed', 'completed', 'no_show');
CREATE INDEX calendar_bookings_agenda ON calendar_bookings (tenant_id, doctor_id, starts_at);
CREATE INDEX calendar_bookings_user ON calendar_bookings (tenant_id, user_id, starts_at);
CREATE INDEX calendar_bookings_pesel ON calendar_bookings (tenant_id, pesel);
CREATE INDEX calendar_bookings_holds ON calendar_bookings (tenant_id, status, hold_expires_at);

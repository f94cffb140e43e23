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
    price_minor        INTEGER NOT NULL,
    currency           TEXT NOT NULL,
    starts_at          TIMESTAMP NOT NULL,
    ends_at            TIMESTAMP NOT NULL,
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
    created_at         TIMESTAMP NOT NULL,
    hold_expires_at    TIMESTAMP NULL,
    confirmed_at       TIMESTAMP NULL,
    cancelled_at       TIMESTAMP NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (starts_at < ends_at),
    CHECK (status IN ('held', 'awaiting_confirmation', 'confirmed', 'cancelled_patient', 'cancelled_doctor', 'completed', 'no_show', 'expired'))
);
-- C8: at most the tenant's limit of live bookings per PESEL, doctor and visit day: each
-- takes one of the numbered places 1…limit of its day, and a place is taken once.
CREATE UNIQUE INDEX calendar_bookings_day_places ON calendar_bookings (tenant_id, doctor_id, pesel, visit_day, day_slot)
    WHERE status IN ('held', 'awaiting_confirmation', 'confirmed', 'completed', 'no_show');
CREATE INDEX calendar_bookings_agenda ON calendar_bookings (tenant_id, doctor_id, starts_at);
CREATE INDEX calendar_bookings_user ON calendar_bookings (tenant_id, user_id, starts_at);
CREATE INDEX calendar_bookings_pesel ON calendar_bookings (tenant_id, pesel);
CREATE INDEX calendar_bookings_holds ON calendar_bookings (tenant_id, status, hold_expires_at);

-- C9 on SQLite, which has no exclusion constraint: a live booking takes every 5-minute cell
-- of its doctor's time it touches, in its own transaction; a cell's primary key is taken
-- once, so two live bookings never share an instant. Cancelling or expiring frees them.
CREATE TABLE calendar_slot_cells (
    tenant_id  TEXT NOT NULL,
    doctor_id  TEXT NOT NULL,
    cell_at    TIMESTAMP NOT NULL,
    booking_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, doctor_id, cell_at)
);
CREATE INDEX calendar_slot_cells_booking ON calendar_slot_cells (tenant_id, booking_id);

-- The doctor's and facility's side (C2, C4, C14, C16).
-- C14: a doctor asks the patient for documents confirming the booking data; the request
-- stays on the booking.
ALTER TABLE calendar_bookings ADD COLUMN documents_requested_at TIMESTAMP NULL;
ALTER TABLE calendar_bookings ADD COLUMN documents_note TEXT NOT NULL DEFAULT '';
-- C4: time kept free before and after every visit of a doctor at a facility.
ALTER TABLE calendar_doctor_facilities ADD COLUMN buffer_minutes INTEGER NOT NULL DEFAULT 0 CHECK (buffer_minutes BETWEEN 0 AND 120);
-- C1: the doctor's photo, a blob of the module.
ALTER TABLE calendar_doctors ADD COLUMN photo_blob TEXT NOT NULL DEFAULT '';

-- C2: an account applies to be a doctor or a facility; the administrator checks the
-- register number and the documents, then grants the role or refuses with a reason.
CREATE TABLE calendar_applications (
    tenant_id       TEXT NOT NULL,
    id              TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    kind            TEXT NOT NULL,
    register_number TEXT NOT NULL,
    name            TEXT NOT NULL DEFAULT '',
    city            TEXT NOT NULL DEFAULT '',
    documents       TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL,
    reason          TEXT NOT NULL DEFAULT '',
    decided_by      TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMP NOT NULL,
    decided_at      TIMESTAMP NULL,
    PRIMARY KEY (tenant_id, id),
    CHECK (kind IN ('doctor', 'facility')),
    CHECK (status IN ('pending', 'approved', 'refused'))
);
-- One pending application per account and kind.
CREATE UNIQUE INDEX calendar_applications_pending ON calendar_applications (tenant_id, user_id, kind) WHERE status = 'pending';
CREATE INDEX calendar_applications_queue ON calendar_applications (tenant_id, status, created_at);

-- C16: a person (with or without an account) asks a doctor about the booking data he keeps
-- as its controller; the doctor answers before the due date.
CREATE TABLE calendar_rights_requests (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    doctor_id   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    pesel       TEXT NOT NULL,
    email       TEXT NOT NULL,
    message     TEXT NOT NULL DEFAULT '',
    user_id     TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL,
    answer      TEXT NOT NULL DEFAULT '',
    answered_by TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL,
    due_at      TIMESTAMP NOT NULL,
    answered_at TIMESTAMP NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, doctor_id) REFERENCES calendar_doctors (tenant_id, id) ON DELETE CASCADE,
    CHECK (kind IN ('access', 'rectification', 'erasure', 'objection')),
    CHECK (status IN ('open', 'done', 'refused'))
);
CREATE INDEX calendar_rights_requests_by ON calendar_rights_requests (tenant_id, doctor_id, status, due_at);

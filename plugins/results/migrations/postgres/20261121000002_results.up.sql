-- The lab's patient records as the LIS sent them (R3), one row per lab patient id.
CREATE TABLE results_lab_patients (
    tenant_id      TEXT NOT NULL,
    id             TEXT NOT NULL,
    lab_patient_id TEXT NOT NULL,
    last_name      TEXT NOT NULL,
    first_name     TEXT NOT NULL,
    birth_name     TEXT NOT NULL,
    birth_date     TEXT NOT NULL,
    match_key      TEXT NOT NULL,
    user_id        TEXT NOT NULL DEFAULT '',
    linked_at      TIMESTAMPTZ NULL,
    linked_by      TEXT NOT NULL DEFAULT '',
    created_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, lab_patient_id)
);
CREATE INDEX results_lab_patients_key ON results_lab_patients (tenant_id, match_key);
CREATE INDEX results_lab_patients_user ON results_lab_patients (tenant_id, user_id);

-- The patients' accounts as the module knows them: their identity for matching, and
-- whether they are linked to a lab record or wait in the staff queue.
CREATE TABLE results_accounts (
    tenant_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    state      TEXT NOT NULL,
    name       TEXT NOT NULL,
    birth_name TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    match_key  TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX results_accounts_state ON results_accounts (tenant_id, state);
CREATE INDEX results_accounts_key ON results_accounts (tenant_id, match_key);

-- Partner professionals (R1, R5): activated by the lab once it checked the register number.
CREATE TABLE results_professionals (
    tenant_id       TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    name            TEXT NOT NULL,
    declared_number TEXT NOT NULL,
    register_number TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL,
    decided_by      TEXT NOT NULL DEFAULT '',
    decided_at      TIMESTAMPTZ NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
CREATE UNIQUE INDEX results_professionals_number ON results_professionals (tenant_id, register_number) WHERE register_number <> '';

-- Reports (R4): the PDF is a blob of the core; the lab's report id makes imports idempotent.
CREATE TABLE results_reports (
    tenant_id         TEXT NOT NULL,
    id                TEXT NOT NULL,
    report_id         TEXT NOT NULL,
    patient_id        TEXT NOT NULL,
    prescriber_number TEXT NOT NULL DEFAULT '',
    prescriber_name   TEXT NOT NULL DEFAULT '',
    lab_site          TEXT NOT NULL DEFAULT '',
    status            TEXT NOT NULL,
    collected_at      TIMESTAMPTZ NOT NULL,
    published_at      TIMESTAMPTZ NOT NULL,
    blob_id           TEXT NOT NULL,
    pdf_name          TEXT NOT NULL,
    pdf_sha256        TEXT NOT NULL,
    pdf_size          BIGINT NOT NULL,
    notified_at       TIMESTAMPTZ NULL,
    source            TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, report_id),
    FOREIGN KEY (tenant_id, patient_id) REFERENCES results_lab_patients (tenant_id, id)
);
CREATE INDEX results_reports_patient ON results_reports (tenant_id, patient_id, collected_at);
CREATE INDEX results_reports_prescriber ON results_reports (tenant_id, prescriber_number, collected_at);
CREATE INDEX results_reports_published ON results_reports (tenant_id, published_at);

-- Structured values of a report, when the LIS sends them.
CREATE TABLE results_values (
    tenant_id TEXT NOT NULL,
    report_id TEXT NOT NULL,
    seq       BIGINT NOT NULL,
    code      TEXT NOT NULL,
    label     TEXT NOT NULL,
    value     TEXT NOT NULL,
    numeric   DOUBLE PRECISION NULL,
    unit      TEXT NOT NULL DEFAULT '',
    ref_low   DOUBLE PRECISION NULL,
    ref_high  DOUBLE PRECISION NULL,
    ref_text  TEXT NOT NULL DEFAULT '',
    flag      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, report_id, seq),
    FOREIGN KEY (tenant_id, report_id) REFERENCES results_reports (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX results_values_code ON results_values (tenant_id, code);

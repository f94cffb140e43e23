-- Amended reports (R3, issue 12.2): the same report id with other content is a new version.
-- The report row holds the latest version (what the patient and the prescriber see); its
-- published_at stays the first publication, from which the retention counts (R4).
ALTER TABLE results_reports ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
--bun:split
ALTER TABLE results_reports ADD COLUMN content_sha256 TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE results_reports ADD COLUMN amended_at TIMESTAMPTZ NULL;
--bun:split
-- Every version of a report, the latest included: earlier ones stay readable to staff. One
-- content is one version: an identical import racing another finds its content taken.
CREATE TABLE results_report_versions (
    tenant_id         TEXT NOT NULL,
    report_id         TEXT NOT NULL,
    version           BIGINT NOT NULL,
    content_sha256    TEXT NOT NULL,
    status            TEXT NOT NULL,
    collected_at      TIMESTAMPTZ NOT NULL,
    prescriber_number TEXT NOT NULL DEFAULT '',
    prescriber_name   TEXT NOT NULL DEFAULT '',
    lab_site          TEXT NOT NULL DEFAULT '',
    blob_id           TEXT NOT NULL,
    pdf_name          TEXT NOT NULL,
    pdf_sha256        TEXT NOT NULL,
    pdf_size          BIGINT NOT NULL,
    vals              TEXT NOT NULL DEFAULT '[]',
    received_at       TIMESTAMPTZ NOT NULL,
    source            TEXT NOT NULL,
    PRIMARY KEY (tenant_id, report_id, version),
    UNIQUE (tenant_id, report_id, content_sha256),
    FOREIGN KEY (tenant_id, report_id) REFERENCES results_reports (tenant_id, id) ON DELETE CASCADE
);

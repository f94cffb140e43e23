-- The clock of a complaint (P10, C17): it stops while the operator waits for the person's
-- explanations. paused_at is set from the question to the answer; paused_days is what the
-- pauses moved the due date by. Each question, with the explanation it got, is kept.
ALTER TABLE complaints ADD COLUMN paused_at TIMESTAMPTZ;
--bun:split
ALTER TABLE complaints ADD COLUMN paused_days INTEGER NOT NULL DEFAULT 0;
--bun:split
CREATE TABLE complaint_questions (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    complaint_id TEXT NOT NULL,
    question     TEXT NOT NULL,
    asked_at     TIMESTAMPTZ NOT NULL,
    asked_by     TEXT NOT NULL,
    key_hash     TEXT NOT NULL,
    explanation  TEXT NOT NULL DEFAULT '',
    explained_at TIMESTAMPTZ,
    paused_days  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, key_hash),
    FOREIGN KEY (tenant_id, complaint_id) REFERENCES complaints (tenant_id, id) ON DELETE CASCADE
);
--bun:split
-- One question waits for its answer at a time: two staff members asking at once make one.
CREATE UNIQUE INDEX complaint_questions_waiting ON complaint_questions (tenant_id, complaint_id) WHERE explained_at IS NULL;
--bun:split
ALTER TABLE complaint_questions ENABLE ROW LEVEL SECURITY;
--bun:split
ALTER TABLE complaint_questions FORCE ROW LEVEL SECURITY;
--bun:split
CREATE POLICY tenant_isolation ON complaint_questions USING (tenant_id = current_setting('app.tenant_id', true)) WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

-- A lab record merged into another one of the same person (R3, issue 12.1): its reports
-- moved there, and a later report under its lab patient id goes there too.
ALTER TABLE results_lab_patients ADD COLUMN merged_into TEXT NOT NULL DEFAULT '';
--bun:split
-- Who took the record away from its account (staff correcting a wrong link): from then on only
-- staff link it again, never the automatic identity match.
ALTER TABLE results_lab_patients ADD COLUMN unlinked_by TEXT NOT NULL DEFAULT '';
--bun:split
CREATE INDEX results_lab_patients_merged ON results_lab_patients (tenant_id, merged_into);

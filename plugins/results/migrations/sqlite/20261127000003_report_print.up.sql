-- The lab's validating biologist when the LIS sends one, and whether the lab gave the
-- collection's time or its day only (a day alone is not shown as "00:00") (issue 12.6, 12.8).
ALTER TABLE results_reports ADD COLUMN validated_by TEXT NOT NULL DEFAULT '';
ALTER TABLE results_reports ADD COLUMN collected_time_unknown BOOLEAN NOT NULL DEFAULT FALSE;

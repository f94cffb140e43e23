-- The version of the module's terms the patient accepted at his first visit (or later, when
-- a new version came into force), kept with his account (P6).
ALTER TABLE results_accounts ADD COLUMN terms_version_id TEXT NOT NULL DEFAULT '';

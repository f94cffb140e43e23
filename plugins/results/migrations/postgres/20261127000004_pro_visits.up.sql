-- When a professional last opened his patients' results, and when his previous visit began:
-- what the lab published since is marked new to him (issue 12.7).
ALTER TABLE results_professionals ADD COLUMN seen_at TIMESTAMPTZ NULL;
ALTER TABLE results_professionals ADD COLUMN last_visit_at TIMESTAMPTZ NULL;

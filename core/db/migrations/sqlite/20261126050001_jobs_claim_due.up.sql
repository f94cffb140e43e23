-- The job runner claims the due jobs of every tenant at once (SQLite has no row-level
-- security: the claim is one immediate write transaction, see core/jobs ClaimDue). Jobs
-- whose lease ran out are found by this index.
CREATE INDEX jobs_lease ON jobs (status, lease_until);

-- Every change to what a tenant's pages read on every request (settings, status, hostnames,
-- modules and their rules, maintenance windows, terms versions) bumps rev: each instance keeps
-- tenants in memory and drops one whose rev moved.
ALTER TABLE tenants ADD COLUMN rev BIGINT NOT NULL DEFAULT 1;

-- The job runner claims the due jobs of every tenant in one statement instead of visiting
-- tenants one by one. Row-level security forbids the runtime role a cross-tenant query, and
-- that stays so: the claim is this one narrow function, run with its owner's rights
-- (SECURITY DEFINER), which marks up to p_limit due jobs (pending and due, or running with a
-- lapsed lease) as claimed by p_instance, skipping rows another runner holds (FOR UPDATE
-- SKIP LOCKED), and returns nothing but their tenant and id. The runner then loads and runs
-- each job inside its own tenant's scope. The runtime role may execute it (granted at
-- start) and still reads no other tenant's job rows.
--
-- FORCE ROW LEVEL SECURITY holds the owner too: this policy lets the owner (the role that
-- runs the migrations, which the runtime never connects as) see the jobs table whole, so
-- that the function works under an owner that is not a superuser.
CREATE POLICY jobs_claimer ON jobs TO CURRENT_USER USING (true) WITH CHECK (true);
--bun:split
CREATE FUNCTION claim_due_jobs(p_instance TEXT, p_now TIMESTAMPTZ, p_lease_until TIMESTAMPTZ, p_limit INTEGER)
RETURNS TABLE (job_tenant TEXT, job_id TEXT)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE
    n INTEGER;
BEGIN
    -- Jobs whose instance died (lease ran out) first, then the pending ones by due time.
    RETURN QUERY
    WITH due AS (
        SELECT j.tenant_id, j.id FROM jobs j
        WHERE j.status = 'running' AND j.lease_until < p_now
        ORDER BY j.lease_until LIMIT p_limit FOR UPDATE SKIP LOCKED
    )
    UPDATE jobs j SET status = 'running', lease_until = p_lease_until, attempts = j.attempts + 1, claimed_by = p_instance
    FROM due WHERE j.tenant_id = due.tenant_id AND j.id = due.id
    RETURNING j.tenant_id, j.id;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n < p_limit THEN
        RETURN QUERY
        WITH due AS (
            SELECT j.tenant_id, j.id FROM jobs j
            WHERE j.status = 'pending' AND j.run_at <= p_now
            ORDER BY j.run_at LIMIT p_limit - n FOR UPDATE SKIP LOCKED
        )
        UPDATE jobs j SET status = 'running', lease_until = p_lease_until, attempts = j.attempts + 1, claimed_by = p_instance
        FROM due WHERE j.tenant_id = due.tenant_id AND j.id = due.id
        RETURNING j.tenant_id, j.id;
    END IF;
END
$$;
--bun:split
REVOKE ALL ON FUNCTION claim_due_jobs(TEXT, TIMESTAMPTZ, TIMESTAMPTZ, INTEGER) FROM PUBLIC;
--bun:split
-- Jobs whose lease ran out, found without a scan.
CREATE INDEX jobs_lease ON jobs (status, lease_until);

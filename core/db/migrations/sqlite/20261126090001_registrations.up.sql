-- A registration waits here between the form's answer and the job that acts on it (P2): the
-- request does the same work whether the address has an account or not (this row and one
-- job), and the job creates the account and mails the verification link, or tells the
-- address's owner that he has an account already. The job deletes the row; data holds the
-- form as checked, the password and secret answer as argon2id hashes.
CREATE TABLE registrations (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

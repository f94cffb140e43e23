-- Every acceptance of terms bumps the account's accepted_rev in the same transaction: an
-- instance keeps what a person accepted in memory for as long as the rev it read with the
-- session (on every request) has not moved.
ALTER TABLE users ADD COLUMN accepted_rev BIGINT NOT NULL DEFAULT 0;

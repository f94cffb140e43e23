-- Erasure reaches the outbox: a message marked forget (the confirmation that an account was
-- erased) is removed from the outbox once delivered, so that the erased person's address and
-- name do not stay behind in it.
ALTER TABLE outbox ADD COLUMN forget BOOLEAN NOT NULL DEFAULT FALSE;

-- P2, R2: the portal an account registered through, and its secret question with the
-- argon2id hash of the normalized answer (the answer itself is never stored).
ALTER TABLE users ADD COLUMN portal TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE users ADD COLUMN secret_question TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE users ADD COLUMN secret_answer_hash TEXT NOT NULL DEFAULT '';

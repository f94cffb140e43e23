-- Login e-mail change (E2): the new address a change link carries until it is followed.
ALTER TABLE user_tokens ADD COLUMN new_email TEXT NOT NULL DEFAULT '';
--bun:split
-- Withdrawal of the consent to the processing of data (E2): the day the account closes,
-- unless the person gives his consent again before; NULL when no withdrawal is pending.
ALTER TABLE users ADD COLUMN closing_at TIMESTAMPTZ;
--bun:split
CREATE INDEX users_closing ON users (tenant_id, closing_at) WHERE closing_at IS NOT NULL;

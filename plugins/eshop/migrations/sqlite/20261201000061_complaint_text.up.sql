-- The lab reads what the customer wrote (E12), and the customer is told the outcome by
-- e-mail once the remedy is recorded (the message's id, when it went).
ALTER TABLE eshop_complaints ADD COLUMN body TEXT NOT NULL DEFAULT '';
ALTER TABLE eshop_complaints ADD COLUMN outcome_sent_at TIMESTAMP NULL;
ALTER TABLE eshop_complaints ADD COLUMN outcome_message_id TEXT NOT NULL DEFAULT '';

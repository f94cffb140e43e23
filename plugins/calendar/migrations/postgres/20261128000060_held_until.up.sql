-- C4 with C9: a live booking holds its doctor's time up to held_until, its end and the
-- buffer the doctor keeps after each visit at the facility, so the database itself keeps
-- two live bookings of a doctor the buffer apart. Bookings stored before hold their own time.
ALTER TABLE calendar_bookings ADD COLUMN held_until TIMESTAMPTZ NULL;
UPDATE calendar_bookings SET held_until = ends_at;
ALTER TABLE calendar_bookings ALTER COLUMN held_until SET NOT NULL;
ALTER TABLE calendar_bookings ADD CONSTRAINT calendar_bookings_held_after_end CHECK (held_until >= ends_at);
ALTER TABLE calendar_bookings DROP CONSTRAINT calendar_bookings_no_overlap;
ALTER TABLE calendar_bookings ADD CONSTRAINT calendar_bookings_no_overlap EXCLUDE USING gist (
    tenant_id WITH =, doctor_id WITH =, tstzrange(starts_at, held_until, '[)') WITH &&
) WHERE (status IN ('held', 'awaiting_confirmation', 'confirmed', 'completed', 'no_show'));

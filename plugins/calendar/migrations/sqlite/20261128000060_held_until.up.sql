-- C4 with C9: a live booking holds its doctor's time up to held_until, its end and the
-- buffer the doctor keeps after each visit at the facility; reserve takes its 5-minute cells
-- up to there, so two live bookings of a doctor stay the buffer apart. Bookings stored
-- before hold their own time (their cells are already taken).
ALTER TABLE calendar_bookings ADD COLUMN held_until TIMESTAMP NULL;
UPDATE calendar_bookings SET held_until = ends_at;

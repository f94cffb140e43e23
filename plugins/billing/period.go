package billing

// Periods (B5). A subscription is invoiced on the anniversary of its start date, each month,
// for the month ahead. Period k (k = 0, 1, …) runs from the k-th monthly anniversary of
// StartsOn, clamped to the month's last day (a start on the 31st gives 30 April, 28 or 29
// February), to the day before the next one. Each anniversary is computed from StartsOn, never
// from the previous anniversary, so a period that starts on 28 February is followed by one
// that starts on 31 March again.

// periodStart is the first day of period k of a subscription that started on start.
func periodStart(start Date, k int) Date { return start.AddMonthsClamped(k) }

// periodAt returns the index and the bounds (first and last day, both included) of the
// period of a subscription started on start that contains day d; d must not be before start.
func periodAt(start, d Date) (k int, first, last Date) {
	k = (d.Y-start.Y)*12 + int(d.M) - int(start.M)
	if k < 0 {
		k = 0
	}
	for k > 0 && periodStart(start, k).After(d) {
		k--
	}
	for !periodStart(start, k+1).After(d) {
		k++
	}
	return k, periodStart(start, k), periodStart(start, k+1).AddDays(-1)
}

package main

// slotsInARow checks, on the booking week a phone shows, that a day's free starts are a
// row of buttons without bullets, not one full-width line each (C4, C5: a week of starts
// fits the phone's screen; issue 13 review).
func slotsInARow(b *person, pg phoneStop) {
	if pg.name != "the week" {
		return
	}
	const expr = `(() => {
  const ul = document.querySelector('ul.slots');
  if (!ul) return -1;
  const li = ul.querySelectorAll('li');
  if (li.length < 2) return -2;
  if (getComputedStyle(ul).listStyleType !== 'none') return -3;
  return li[0].getBoundingClientRect().top === li[1].getBoundingClientRect().top ? 1 : 0;
})()`
	switch got := eval[int](b, "the week's starts", expr); got {
	case 1:
	case -1, -2:
		b.t.Fatalf("the week shows no day with two free starts (%d)", got)
	case -3:
		b.t.Fatal("the week's starts are a bulleted list")
	default:
		b.t.Fatal("a day's first two starts are on separate lines: the starts are not a row of buttons")
	}
}

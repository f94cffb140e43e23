package main

import (
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"carenet.dev/platform/core/browsertest"
	"carenet.dev/platform/core/db/dbtest"
)

// TestBrowserDirectoryMap (issue 13.1, C1): an anonymous visitor on a 390 px phone in
// Chromium searches doctors near his position — asked only once he ticked the consent box —
// and near a typed city (Warszawa). The result list shows, nearest first
// with distances; Leaflet, served from the module's binary, draws the listed facilities on
// the map with tiles asked from the tenant's tile URL (OpenStreetMap's by default) and its
// attribution, which the page's Content-Security-Policy lets it load; the page does not scroll sideways and axe-core finds nothing serious.
func TestBrowserDirectoryMap(t *testing.T) {
	execPath := browsertest.Need(t)
	checks := browsertest.NeedChecks(t)
	p := startPlatformOn(t, dbtest.Backends()[0], filepath.Join("..", "..", "tenants")) // a browser run is slow: SQLite only
	base, err := url.Parse(p.base)
	if err != nil {
		t.Fatal(err)
	}
	// The page's policy lets the browser load the tenant's tiles, and no other image host.
	req, _ := http.NewRequest("GET", p.base+"/calendar?near=Warszawa", nil)
	req.Host = "elekarze.localhost"
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data: https://tile.openstreetmap.org;") {
		t.Errorf("the search page's policy does not allow the tiles: %s", csp)
	}
	first := browsertest.Start(t, execPath, 4*time.Minute)
	b := newPerson(t, first, "visitor", base.Port())
	b.do("phone viewport", chromedp.EmulateViewport(phoneWidth, 844, chromedp.EmulateMobile, chromedp.EmulateTouch))
	// The position: the browser's is asked only once the consent box is ticked (the device's
	// answer is stood in for by a position in Warszawa); then the search runs near it.
	b.open("the search form", b.url("elekarze.localhost", "/calendar"), 200)
	eval[bool](b, "a position in Warszawa", `navigator.geolocation.getCurrentPosition = function (ok) { window.asked = true; ok({coords: {latitude: 52.2297, longitude: 21.0122}}); }; true`)
	b.do("use my position without consent", chromedp.Click("#f-locate"))
	if eval[bool](b, "was the position asked", `!!window.asked`) {
		t.Error("the position was asked without the consent")
	}
	b.wantIn("#locate-status", "najpierw zaznacz zgodę")
	b.do("tick the consent", chromedp.Click("#f-geo"))
	b.load("use my position", 200, chromedp.Click("#f-locate"))
	b.wantIn("main", "km od wskazanego miejsca")
	if at := b.at(); at.Query().Get("geo") != "1" || !strings.HasPrefix(at.Query().Get("lat"), "52.2") {
		t.Errorf("the search near the position went to %s", at)
	}
	// Nearest first: the first doctor works in Warszawa, where the position is.
	if d := eval[string](b, "the first distance", `document.querySelector("ul.doctors .distance").textContent`); !strings.HasPrefix(d, "0 km") {
		t.Errorf("the nearest doctor is listed %q away", d)
	}

	u := b.url("elekarze.localhost", "/calendar?near="+url.QueryEscape("Warszawa"))
	b.open("search near Warszawa", u, 200)
	b.wantIn("main", "km od wskazanego miejsca")
	if n := eval[int](b, "count the doctors", `document.querySelectorAll("ul.doctors > li").length`); n == 0 {
		b.fatal("the result list", errNoDoctors)
	}
	b.do("Leaflet draws the map", chromedp.WaitReady(`#calendar-map[data-ready="1"]`))
	tiles := eval[[]string](b, "the tiles", `Array.from(document.querySelectorAll("#calendar-map img.leaflet-tile")).map(i => i.src)`)
	if len(tiles) == 0 {
		t.Fatal("the map asked for no tile")
	}
	for _, src := range tiles {
		if !strings.HasPrefix(src, "https://tile.openstreetmap.org/") {
			t.Errorf("a tile from %s, not the tenant's tile URL", src)
		}
	}
	if n := eval[int](b, "the markers", `document.querySelectorAll("#calendar-map .leaflet-marker-icon").length`); n == 0 {
		t.Error("no facility on the map")
	}
	b.wantIn("#calendar-map .leaflet-control-attribution", "© OpenStreetMap contributors")
	phoneHere(b, checks, "search near Warszawa with its map", u, false)
}

var errNoDoctors = errorString("no doctor listed")

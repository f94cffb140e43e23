package server

import (
	"strings"
	"testing"
)

// Issue 13.1 (C1): a module's pages may load map tiles from the https host its tenant's
// "<module>.map_tile_url" rule names, and from nowhere else; a URL that is not https or not
// a plain host opens nothing.
func TestMapTileOrigin(t *testing.T) {
	for _, c := range []struct {
		rules map[string]any
		want  string
	}{
		{map[string]any{"calendar.map_tile_url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png"}, "https://tile.openstreetmap.org"},
		{map[string]any{"calendar.map_tile_url": "https://{s}.tiles.example.org:8443/{z}/{x}/{y}.png"}, "https://*.tiles.example.org:8443"},
		{map[string]any{"calendar.map_tile_url": "http://tiles.example.org/{z}/{x}/{y}.png"}, ""},
		{map[string]any{"calendar.map_tile_url": "https://a.org; script-src *"}, ""},
		{map[string]any{"calendar.map_tile_url": "https://user:pw@tiles.example.org/{z}.png"}, ""},
		{map[string]any{"calendar.map_tile_url": "javascript:alert(1)"}, ""},
		{map[string]any{"calendar.map_tile_url": 7}, ""},
		{map[string]any{"results.other_url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png"}, ""},
		{nil, ""},
	} {
		if got := mapTileOrigin(c.rules); got != c.want {
			t.Errorf("%v: %q, want %q", c.rules, got, c.want)
		}
	}
	p := contentPolicy("https://tile.openstreetmap.org")
	if !strings.Contains(p, "img-src 'self' data: https://tile.openstreetmap.org;") || !strings.Contains(p, "script-src 'self';") {
		t.Fatalf("policy: %s", p)
	}
	if contentPolicy("") != "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'" {
		t.Fatalf("the platform's own policy changed: %s", contentPolicy(""))
	}
}

// C6, P7: a message to a person without an account here (an anonymous booking, the other
// person a visit was booked for) has no name to greet: it opens with the greeting alone,
// never "Dzień dobry, ,".
func TestGreetingWithoutAName(t *testing.T) {
	for _, c := range []struct {
		kv   []any
		want bool
	}{
		{[]any{"Name", "Anna Nowak", "Tenant", "eLekarze"}, true},
		{[]any{"Name", "", "Tenant", "eLekarze"}, false},
		{[]any{"Name", "  ", "Tenant", "eLekarze"}, false},
		{[]any{"Tenant", "eLekarze"}, false},
		// A module's data naming a person without an account come after the host's empty name.
		{[]any{"Name", "", "Tenant", "eLekarze", "Name", "Dr Jean Martin"}, true},
		{[]any{"Name", "Anna Nowak", "Tenant", "eLekarze", "Name", " "}, false},
	} {
		if got := namedIn(c.kv); got != c.want {
			t.Errorf("namedIn(%v) = %v, want %v", c.kv, got, c.want)
		}
	}
}

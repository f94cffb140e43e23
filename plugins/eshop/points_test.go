package eshop

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"carenet.dev/platform/plugins/kit/store"
	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

// uploadAs posts data as the multipart file field name.
func (f *catFixture) uploadAs(u *sdk.User, path, name, file string, data []byte) *sdk.Response {
	f.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile(name, file)
	fw.Write(data)
	mw.Close()
	req := &sdk.Request{Method: "POST", Path: path, RemoteIP: "10.9.9.9", Header: http.Header{}, Body: body.Bytes()}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res, err := f.h.Send(context.Background(), f.A, u, req)
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

// points reads tenant ten's points by name.
func (f *catFixture) points(ten sdk.Tenant) map[string]Point {
	f.t.Helper()
	var ps []Point
	if err := f.m.Read(context.Background(), ten, func(ctx context.Context, sc *store.Scope) error { return sc.Select(&ps).Scan(ctx) }); err != nil {
		f.t.Fatal(err)
	}
	out := map[string]Point{}
	for _, p := range ps {
		out[p.Name] = p
	}
	return out
}

// E3: the manager keeps a collection point — its address, building, floor, room, GPS,
// phone, directions, slot length and capacity; its weekly hours (several ranges a day, none
// overlapping); its exceptional days (closed, or other hours, with a note); its site plan
// (an image or a PDF that parses). Each bad input is told next to its field and changes
// nothing. The public "where to find us" lists the active points with their hours and their
// place on the map (without a script too), a point's page shows all of it and serves the
// plan; the map's files are served; an inactive point is not public.
func TestCollectionPoints(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := catSetup(t, b)
		good := url.Values{"name": {"Odberové miesto Kramáre"}, "street": {"Limbová 5"}, "town": {"Bratislava"}, "postcode": {"833 05"},
			"building": {"Pavilón B"}, "floor": {"2. poschodie"}, "room": {"č. 214"}, "latitude": {"48,1705"}, "longitude": {"17.0892"},
			"phone": {"+421 2 5954 1111"}, "directions": {"Autobusom č. 32 na zastávku Limbová.\nVchod z parkoviska."}, "slot_minutes": {"15"}, "capacity": {"3"}, "active": {"on"}}
		bad := url.Values{}
		for k, v := range good {
			bad[k] = v
		}
		bad.Set("latitude", "148")
		bad.Set("slot_minutes", "7")
		bad.Set("capacity", "0")
		bad.Set("name", "")
		res := f.send(f.A, catManager, "POST", "/eshop/manage/points/new", bad)
		body := string(res.Body)
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(body, "od -90 do 90") || !strings.Contains(body, "po 5 minútach") ||
			!strings.Contains(body, "od 1 do 1") || !strings.Contains(body, `id="e-name"`) || !strings.Contains(body, `value="Limbová 5"`) {
			t.Fatalf("a bad point: %d\n%s", res.Status, body)
		}
		if n := len(f.points(f.A)); n != 0 {
			t.Fatalf("a refused form stored %d points", n)
		}
		if res := f.send(f.A, catManager, "POST", "/eshop/manage/points/new", good); res.Status != http.StatusSeeOther {
			t.Fatalf("a point: %d\n%s", res.Status, res.Body)
		}
		p := f.points(f.A)["Odberové miesto Kramáre"]
		if p.Latitude == nil || *p.Latitude != 48.1705 || *p.Longitude != 17.0892 || p.SlotMinutes != 15 || p.Capacity != 3 || !p.Active ||
			p.Directions != "Autobusom č. 32 na zastávku Limbová.\nVchod z parkoviska." || p.Room != "č. 214" {
			t.Fatalf("stored: %+v", p)
		}
		base := "/eshop/manage/points/" + p.ID
		// Hours: Monday 7:00–10:00 and 13:00–15:00; an overlapping range and a closing
		// before the opening are refused next to their fields.
		for _, h := range [][3]string{{"1", "07:00", "10:00"}, {"1", "13:00", "15:00"}, {"3", "7:30", "11:00"}} {
			if res := f.send(f.A, catManager, "POST", base+"/hours", url.Values{"weekday": {h[0]}, "opens": {h[1]}, "closes": {h[2]}}); res.Status != http.StatusSeeOther {
				t.Fatalf("hours %v: %d\n%s", h, res.Status, res.Body)
			}
		}
		for _, c := range []struct {
			form url.Values
			want string
		}{
			{url.Values{"weekday": {"1"}, "opens": {"09:00"}, "closes": {"11:00"}}, "prekrývajú"},
			{url.Values{"weekday": {"2"}, "opens": {"12:00"}, "closes": {"11:00"}}, "Zatvorenie musí byť po otvorení."},
			{url.Values{"weekday": {"2"}, "opens": {"25:00"}, "closes": {"26:00"}}, "HH:MM"},
		} {
			res := f.send(f.A, catManager, "POST", base+"/hours", c.form)
			if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), c.want) {
				t.Fatalf("hours %v: %d\n%s", c.form, res.Status, res.Body)
			}
		}
		if res := f.send(f.A, catManager, "POST", base+"/hours", url.Values{"weekday": {"9"}, "opens": {"08:00"}, "closes": {"09:00"}}); res.Status != http.StatusBadRequest {
			t.Fatalf("an unknown weekday: %d", res.Status)
		}
		var hs []PointHours
		if err := f.m.Read(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&hs).Where("ph.point_id = ?", p.ID).Scan(ctx)
		}); err != nil || len(hs) != 3 {
			t.Fatalf("hours stored: %+v %v", hs, err)
		}
		// The slots follow: Monday 23 November has 12 + 8 slots, Wednesday's start at 07:30.
		if got := f.slots(f.A, p.ID, bratislava(2026, 11, 23, 0, 0), bratislava(2026, 11, 24, 0, 0)); len(got) != 20 {
			t.Fatalf("Monday's slots: %d", len(got))
		}
		if got := f.slots(f.A, p.ID, bratislava(2026, 11, 25, 0, 0), bratislava(2026, 11, 26, 0, 0)); len(got) == 0 || !got[0].Start.Equal(bratislava(2026, 11, 25, 7, 30)) {
			t.Fatalf("Wednesday's slots: %+v", got)
		}
		// Exceptions: a closed Monday with a note; other hours on a Wednesday; a past day and
		// a missing time are refused.
		if res := f.send(f.A, catManager, "POST", base+"/exceptions", url.Values{"ex_day": {"2026-11-30"}, "ex_closed": {"on"}, "ex_note": {"Inventúra"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("a closed day: %d\n%s", res.Status, res.Body)
		}
		if res := f.send(f.A, catManager, "POST", base+"/exceptions", url.Values{"ex_day": {"2026-12-02"}, "ex_opens": {"09:00"}, "ex_closes": {"10:00"}, "ex_note": {"Skrátené hodiny"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("other hours: %d\n%s", res.Status, res.Body)
		}
		if res := f.send(f.A, catManager, "POST", base+"/exceptions", url.Values{"ex_day": {"2026-11-01"}, "ex_closed": {"on"}}); res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "Tento dátum už uplynul.") {
			t.Fatalf("a past day: %d", res.Status)
		}
		if res := f.send(f.A, catManager, "POST", base+"/exceptions", url.Values{"ex_day": {"2026-12-09"}, "ex_opens": {"09:00"}}); res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), `id="e-ex_closes"`) {
			t.Fatalf("an exception without its closing: %d", res.Status)
		}
		if got := f.slots(f.A, p.ID, bratislava(2026, 11, 30, 0, 0), bratislava(2026, 12, 1, 0, 0)); len(got) != 0 {
			t.Fatalf("the closed Monday has %d slots", len(got))
		}
		if got := f.slots(f.A, p.ID, bratislava(2026, 12, 2, 0, 0), bratislava(2026, 12, 3, 0, 0)); len(got) != 4 {
			t.Fatalf("the shortened Wednesday has %d slots", len(got))
		}
		// The site plan: a text file is refused, a PNG is stored and served.
		if res := f.uploadAs(catManager, base+"/plan", "plan", "plan.png", []byte("not an image")); res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "Nahrajte obrázok PNG alebo JPEG, alebo PDF.") {
			t.Fatalf("a text plan: %d\n%s", res.Status, res.Body)
		}
		var img bytes.Buffer
		if err := png.Encode(&img, image.NewRGBA(image.Rect(0, 0, 40, 30))); err != nil {
			t.Fatal(err)
		}
		if res := f.uploadAs(catManager, base+"/plan", "plan", "plan.png", img.Bytes()); res.Status != http.StatusSeeOther {
			t.Fatalf("a PNG plan: %d\n%s", res.Status, res.Body)
		}
		res = f.send(f.A, nil, "GET", "/eshop/points/"+p.ID+"/plan", nil)
		if res.Status != 200 || res.Header.Get("Content-Type") != "image/png" || !bytes.Equal(res.Body, img.Bytes()) || res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("the plan served: %d %v", res.Status, res.Header)
		}
		// The public list and page.
		res = f.send(f.A, nil, "GET", "/eshop/points", nil)
		body = string(res.Body)
		for _, want := range []string{"Odberové miesto Kramáre", "Limbová 5", "833 05 Bratislava", "Pondelok", "07:00–10:00, 13:00–15:00", "Streda", "07:30–11:00",
			"zatvorené", `data-lat="48.1705"`, `data-lon="17.0892"`, `id="eshop-map"`, "tile.openstreetmap.org", "/eshop/assets/leaflet.js?v=", "/eshop/assets/map.js?v=",
			"Inventúra", "Skrátené hodiny", "09:00–10:00"} {
			if !strings.Contains(body, want) {
				t.Fatalf("points list lacks %q\n%s", want, body)
			}
		}
		noKeys(t, "points", res.Body)
		res = f.send(f.A, nil, "GET", "/eshop/points/"+p.ID, nil)
		body = string(res.Body)
		for _, want := range []string{"Pavilón B", "2. poschodie", "č. 214", "421\u00a02\u00a05954\u00a01111", "Autobusom č. 32 na zastávku Limbová.", `src="/eshop/points/` + p.ID + `/plan"`,
			"Situačný plán", "Inventúra"} {
			if !strings.Contains(body, want) {
				t.Fatalf("point page lacks %q\n%s", want, body)
			}
		}
		noKeys(t, "point page", res.Body)
		// The map's files.
		for path, ct := range map[string]string{"/eshop/assets/leaflet.js": "text/javascript", "/eshop/assets/leaflet.css": "text/css", "/eshop/assets/map.js": "text/javascript",
			"/eshop/assets/eshop.css": "text/css", "/eshop/assets/images/marker-icon.png": "image/png"} {
			res := f.send(f.A, nil, "GET", path, nil)
			if res.Status != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), ct) || len(res.Body) == 0 {
				t.Fatalf("%s: %d %s", path, res.Status, res.Header.Get("Content-Type"))
			}
		}
		for _, path := range []string{"/eshop/assets/eshop.go", "/eshop/assets/x/leaflet.js", "/eshop/assets/LICENSE"} {
			if res := f.send(f.A, nil, "GET", path, nil); res.Status != 404 {
				t.Fatalf("%s: %d", path, res.Status)
			}
		}
		// The tenant's tile server is the map's.
		ten := f.A
		rules, err := f.h.Manifest.ValidateRules(map[string]any{"eshop.map_tile_url": "https://tiles.example.sk/{z}/{x}/{y}.png"})
		if err != nil {
			t.Fatal(err)
		}
		ten.Rules = rules
		if body := string(f.send(ten, nil, "GET", "/eshop/points", nil).Body); !strings.Contains(body, "tiles.example.sk") {
			t.Fatalf("the tenant's tiles are not used\n%s", body)
		}
		// Removing a range and an exception.
		if res := f.send(f.A, catManager, "POST", base+"/hours/delete", url.Values{"weekday": {"1"}, "opens": {"13:00"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("remove hours: %d", res.Status)
		}
		if res := f.send(f.A, catManager, "POST", base+"/exceptions/delete", url.Values{"day": {"2026-11-30"}}); res.Status != http.StatusSeeOther {
			t.Fatalf("remove exception: %d", res.Status)
		}
		if got := f.slots(f.A, p.ID, bratislava(2026, 11, 30, 0, 0), bratislava(2026, 12, 1, 0, 0)); len(got) != 12 {
			t.Fatalf("Monday 30th after the changes: %d slots", len(got))
		}
		// An inactive point leaves the public pages and has no slot.
		off := url.Values{}
		for k, v := range good {
			off[k] = v
		}
		off.Del("active")
		if res := f.send(f.A, catManager, "POST", base, off); res.Status != http.StatusSeeOther {
			t.Fatalf("deactivate: %d", res.Status)
		}
		if res := f.send(f.A, nil, "GET", "/eshop/points/"+p.ID, nil); res.Status != 404 {
			t.Fatalf("an inactive point's page: %d", res.Status)
		}
		if body := string(f.send(f.A, nil, "GET", "/eshop/points", nil).Body); strings.Contains(body, "Kramáre") {
			t.Fatalf("an inactive point listed")
		}
		if got := f.slots(f.A, p.ID, bratislava(2026, 11, 23, 0, 0), bratislava(2026, 11, 24, 0, 0)); len(got) != 0 {
			t.Fatalf("an inactive point has %d slots", len(got))
		}
		// Tenants never leak: B neither sees nor changes A's point.
		if res := f.send(f.B, catManager, "GET", base, nil); res.Status != 404 {
			t.Fatalf("B opens A's point: %d", res.Status)
		}
		if res := f.send(f.B, catManager, "POST", base+"/hours", url.Values{"weekday": {"2"}, "opens": {"08:00"}, "closes": {"09:00"}}); res.Status != 404 {
			t.Fatalf("B adds hours to A's point: %d", res.Status)
		}
		if res := f.send(f.B, catManager, "POST", base, good); res.Status != 404 {
			t.Fatalf("B changes A's point: %d", res.Status)
		}
		// Every change was audited, with the point's name.
		n := 0
		for _, a := range f.h.Host.Audits {
			if strings.HasPrefix(a.Value.Action, "eshop.point_") && a.Value.Detail["name"] == "Odberové miesto Kramáre" {
				n++
			}
		}
		if n != 1+3+2+1+2+1 {
			t.Fatalf("%d point changes audited", n)
		}
	})
}

// E3: managers adding overlapping ranges to the same day at once store one of them: the
// point's row is held while the ranges are checked, on both databases.
func TestOverlappingHoursAtOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := catSetup(t, b)
		p := f.point(f.A, "Odberové miesto Nitra", 15, 2)
		statuses := make([]int, 12)
		var wg sync.WaitGroup
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				opens := fmt.Sprintf("%02d:00", 7+i%3) // 07:00, 08:00, 09:00: each overlaps the others' 3 hours
				res := f.send(f.A, catManager, "POST", "/eshop/manage/points/"+p.ID+"/hours", url.Values{"weekday": {"2"}, "opens": {opens}, "closes": {fmt.Sprintf("%02d:00", 10+i%3)}})
				statuses[i] = res.Status
			}()
		}
		wg.Wait()
		stored := 0
		for _, s := range statuses {
			switch s {
			case http.StatusSeeOther:
				stored++
			case http.StatusUnprocessableEntity:
			default:
				t.Fatalf("statuses: %v", statuses)
			}
		}
		var hs []PointHours
		if err := f.m.Read(context.Background(), f.A, func(ctx context.Context, sc *store.Scope) error {
			return sc.Select(&hs).Where("ph.point_id = ?", p.ID).Scan(ctx)
		}); err != nil {
			t.Fatal(err)
		}
		if stored != 1 || len(hs) != 1 {
			t.Fatalf("%d ranges accepted, %d stored: %+v", stored, len(hs), hs)
		}
	})
}

package calendar

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"io/fs"
	"math"
	"strconv"
	"strings"
	"sync"

	"carenet.dev/platform/plugins/kit"
	"carenet.dev/platform/plugins/kit/store"
)

// The map and the distance search (C1): the tile server and its attribution are the
// tenant's (OpenStreetMap's by default); the radius bounds a search near a place.
var (
	mapTileURL     = kit.String("calendar.map_tile_url", "https://tile.openstreetmap.org/{z}/{x}/{y}.png", nil, "C1")
	mapAttribution = kit.String("calendar.map_attribution", "© OpenStreetMap contributors", nil, "C1")
	searchRadiusKm = kit.Int("calendar.search_radius_km", 50, 1, 1000, "C1")
	firstSlotDays  = kit.Int("calendar.first_slot_days", 14, 1, 60, "C1")
)

// maxNearCandidate bounds the facilities a search near a place weighs (a bound of work, not
// a rule of the tenant).
const maxNearCandidate = 5000

//go:embed data/gazetteer.tsv
var gazetteerTSV []byte

//go:embed assets
var assets embed.FS

// ownAssets are the calendar's own map files (Leaflet's are kit/leaflet's).
var ownAssets, _ = fs.Sub(assets, "assets")

// point is a place on Earth, in degrees.
type point struct{ Lat, Lon float64 }

// km is the great-circle distance between a and b in kilometres (haversine).
func km(a, b point) float64 {
	const r = 6371.0
	rad := math.Pi / 180
	dLat, dLon := (b.Lat-a.Lat)*rad, (b.Lon-a.Lon)*rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(h)))
}

// box is the latitude and longitude span around p that holds every point within radius km.
func box(p point, radius float64) (minLat, maxLat, minLon, maxLon float64) {
	dLat := radius / 111.0
	cos := math.Cos(p.Lat * math.Pi / 180)
	dLon := 180.0
	if cos > 0.01 {
		dLon = math.Min(180, radius/(111.0*cos))
	}
	return p.Lat - dLat, p.Lat + dLat, p.Lon - dLon, p.Lon + dLon
}

var (
	gazetteerOnce sync.Once
	gazetteer     map[string]map[string]point // country → folded name → place
)

// cityPoint finds a city of country by its name, as people type it (case and accents
// ignored), in the embedded gazetteer (data/gazetteer.tsv, GeoNames).
func cityPoint(country, name string) (point, bool) {
	gazetteerOnce.Do(func() {
		gazetteer = map[string]map[string]point{}
		sc := bufio.NewScanner(bytes.NewReader(gazetteerTSV))
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "#") {
				continue
			}
			f := strings.Split(line, "\t")
			if len(f) != 4 {
				continue
			}
			lat, err1 := strconv.ParseFloat(f[2], 64)
			lon, err2 := strconv.ParseFloat(f[3], 64)
			if err1 != nil || err2 != nil {
				continue
			}
			if gazetteer[f[0]] == nil {
				gazetteer[f[0]] = map[string]point{}
			}
			if k := fold(f[1]); k != "" {
				if _, dup := gazetteer[f[0]][k]; !dup {
					gazetteer[f[0]][k] = point{lat, lon}
				}
			}
		}
	})
	p, ok := gazetteer[strings.ToUpper(country)][fold(name)]
	return p, ok
}

// postalKey is a postal code without its spaces and dashes ("00-950", "811 01").
func postalKey(s string) string {
	return strings.NewReplacer(" ", "", "-", "", "\u00a0", "").Replace(s)
}

// looksPostal reports whether s is typed as a postal code: digits, spaces and dashes.
func looksPostal(s string) bool {
	k := postalKey(s)
	if len(k) < 3 || len(k) > 10 {
		return false
	}
	for _, r := range k {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// geocode finds the place a person typed (C1): a postal code is where the tenant's
// facilities of that code are; a city name is the gazetteer's city of the tenant's
// country, or else where the tenant's facilities in that city are.
func (m *Module) geocode(ctx context.Context, sc *store.Scope, country, place string) (point, bool, error) {
	place = strings.TrimSpace(place)
	if place == "" {
		return point{}, false, nil
	}
	var rows []Facility
	if looksPostal(place) {
		err := sc.Select(&rows).Column("latitude", "longitude").
			Where("REPLACE(REPLACE(fa.postal_code, ' ', ''), '-', '') = ?", postalKey(place)).
			Where("fa.latitude IS NOT NULL AND fa.longitude IS NOT NULL").Limit(50).Scan(ctx)
		if err != nil {
			return point{}, false, err
		}
	} else {
		if p, ok := cityPoint(country, place); ok {
			return p, true, nil
		}
		err := sc.Select(&rows).Column("latitude", "longitude").Where("fa.city_key = ?", fold(place)).
			Where("fa.latitude IS NOT NULL AND fa.longitude IS NOT NULL").Limit(50).Scan(ctx)
		if err != nil {
			return point{}, false, err
		}
	}
	if len(rows) == 0 {
		return point{}, false, nil
	}
	var p point
	for _, f := range rows {
		p.Lat += *f.Latitude
		p.Lon += *f.Longitude
	}
	p.Lat /= float64(len(rows))
	p.Lon /= float64(len(rows))
	return p, true, nil
}

// assetURL is the address of a map file, with the module's version so that a new release
// is fetched anew despite the long cache.
func (m *Module) assetURL(name string) string {
	return "/calendar/assets/" + name + "?v=" + m.Manifest().Version
}

// HasPoint reports whether the facility has coordinates (it is on the map).
func (f Facility) HasPoint() bool { return f.Latitude != nil && f.Longitude != nil }

// LatText and LonText are its coordinates for the map's data attributes.
func (f Facility) LatText() string { return strconv.FormatFloat(*f.Latitude, 'f', -1, 64) }

// LonText is its longitude for the map's data attributes.
func (f Facility) LonText() string { return strconv.FormatFloat(*f.Longitude, 'f', -1, 64) }

package calendar

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"carenet.dev/platform/plugins/kit/store/storetest"
)

// Issue 13.11: the demonstration directory is there once, however often it is seeded, and
// a search finds its doctors by city.
func TestDemoDirectory(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := setup(t, b)
		ctx := context.Background()
		for range 2 {
			if err := f.m.seedDemo(ctx, f.A, nil); err != nil {
				t.Fatal(err)
			}
		}
		res := f.get(f.A, nil, "10.0.0.9", "/calendar?city=krakow")
		if res.Status != http.StatusOK || strings.Count(string(res.Body), "/calendar/doctors/") != 3 {
			t.Fatalf("Kraków: %d\n%s", res.Status, res.Body)
		}
	})
}

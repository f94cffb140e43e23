package eshop

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"carenet.dev/platform/plugins/kit/store/storetest"
	"carenet.dev/platform/plugins/sdk"
)

var navLinkRe = regexp.MustCompile(`<li><a href="([^"]+)"( aria-current="page")?>`)

// navOf is the shop navigation's links on a page, and the one marked current.
func navOf(t *testing.T, body string) (links []string, current string) {
	t.Helper()
	i := strings.Index(body, `<nav class="module-nav"`)
	if i < 0 {
		return nil, ""
	}
	nav := body[i : i+strings.Index(body[i:], "</nav>")]
	for _, m := range navLinkRe.FindAllStringSubmatch(nav, -1) {
		links = append(links, m[1])
		if m[2] != "" {
			current = m[1]
		}
	}
	return links, current
}

// The shop's own navigation (issue 14, found by a new user's walkthrough): every page leads
// a visitor to the catalog, the collection points and the gift vouchers; a customer also to
// his cart, orders, results and vouchers; lab staff to their day list, the lab and their
// queues; the shop manager to the catalog's, points' and vouchers' management — the page's
// own link marked current, in each language.
func TestShopNavigation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		f := ordSetup(t, b)
		staff := &sdk.User{ID: "u-staff", Name: "Lab Staff", Locale: "sk", Roles: []string{"user", "lab_staff"}}
		manager := &sdk.User{ID: "u-manager", Name: "Shop Manager", Locale: "sk", Roles: []string{"user", "shop_manager"}}
		cases := []struct {
			who       *sdk.User
			path      string
			want, not []string
			current   string
		}{
			{nil, "/eshop", []string{"/eshop", "/eshop/points", "/eshop/vouchers"}, []string{"/eshop/cart", "/eshop/staff", "/eshop/manage"}, "/eshop"},
			{nil, "/eshop/points", []string{"/eshop/points"}, nil, "/eshop/points"},
			{nil, "/eshop/items/i-lipid", nil, nil, "/eshop"}, // an item's page belongs to the catalog
			{f.anna, "/eshop/orders", []string{"/eshop/cart", "/eshop/orders", "/eshop/results", "/eshop/vouchers/mine"}, []string{"/eshop/staff", "/eshop/manage"}, "/eshop/orders"},
			{f.anna, "/eshop/vouchers/mine", []string{"/eshop/vouchers"}, nil, "/eshop/vouchers/mine"},
			{staff, "/eshop/staff", []string{"/eshop/staff", "/eshop/lab", "/eshop/staff/reschedules", "/eshop/lab/claims", "/eshop/lab/complaints"}, []string{"/eshop/manage"}, "/eshop/staff"},
			{staff, "/eshop/lab/claims", nil, nil, "/eshop/lab/claims"},
			// The catalog is the shop's home: current on itself, not on every page below it.
			{f.anna, "/eshop/complaints/new", nil, nil, ""},
			{manager, "/eshop/manage", []string{"/eshop/manage", "/eshop/manage/points", "/eshop/manage/vouchers", "/eshop/manage/force-majeure"}, []string{"/eshop/staff"}, "/eshop/manage"},
		}
		for _, c := range cases {
			for _, lang := range []string{"sk", "fr", "pl"} {
				ten := f.T
				ten.Locale = lang
				res, err := f.h.Do(t.Context(), ten, c.who, http.MethodGet, c.path, nil)
				if err != nil || res.Status != http.StatusOK {
					t.Fatalf("%s in %s: %v %v", c.path, lang, res.Status, err)
				}
				body := string(res.Body)
				links, cur := navOf(t, body)
				for _, w := range c.want {
					if !slices.Contains(links, w) {
						t.Errorf("%s in %s: the navigation lacks %s (%v)", c.path, lang, w, links)
					}
				}
				for _, n := range c.not {
					if slices.Contains(links, n) {
						t.Errorf("%s in %s: the navigation offers %s to one who may not use it", c.path, lang, n)
					}
				}
				if cur != c.current {
					t.Errorf("%s in %s: current %q, want %q", c.path, lang, cur, c.current)
				}
				if strings.Contains(body, "eshop.nav.") {
					t.Errorf("%s in %s: a message id shows in the navigation", c.path, lang)
				}
			}
		}
	})
}

// withoutNav is a page without the shop's navigation: what the page itself links.
func withoutNav(body string) string {
	i := strings.Index(body, `<nav class="module-nav"`)
	if i < 0 {
		return body
	}
	return body[:i] + body[i+strings.Index(body[i:], "</nav>")+len("</nav>"):]
}

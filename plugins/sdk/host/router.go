package host

import (
	"net/http"
	"net/url"

	"carenet.dev/platform/plugins/sdk"
)

// Router matches a request against a module's manifest routes. It is built once per start
// of the module, on the same matcher the module's own router uses (net/http's ServeMux), so
// that the route whose permission the host checks is the route whose handler the module
// runs — the most specific pattern wins on both ends.
type Router struct {
	mux    *http.ServeMux
	routes map[string]*sdk.Route
}

// NewRouter compiles routes (a manifest that passed Check).
func NewRouter(routes []sdk.Route) *Router {
	r := &Router{mux: http.NewServeMux(), routes: map[string]*sdk.Route{}}
	nop := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for i := range routes {
		p := routes[i].Method + " " + routes[i].Path
		r.mux.Handle(p, nop)
		r.routes[p] = &routes[i]
	}
	return r
}

// Match finds the route of method and path (a cleaned path, without a trailing slash). When
// no route matches, pathFound reports whether a route of another method has that path (405
// rather than 404).
func (r *Router) Match(method, path string) (route *sdk.Route, pathFound bool) {
	if rt := r.lookup(method, path); rt != nil {
		return rt, true
	}
	for _, other := range []string{http.MethodGet, http.MethodPost} {
		if other != method && r.lookup(other, path) != nil {
			return nil, true
		}
	}
	return nil, false
}

func (r *Router) lookup(method, path string) *sdk.Route {
	req := &http.Request{Method: method, URL: &url.URL{Path: path}, Host: "module"}
	_, pattern := r.mux.Handler(req)
	return r.routes[pattern]
}

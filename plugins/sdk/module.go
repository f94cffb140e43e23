package sdk

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
)

// Module is what a business module implements.
//
// Since protocol version 1.
type Module interface {
	// Manifest returns the module's static declaration. It is called once per start.
	Manifest() Manifest
	// Handle answers one HTTP request to one of the module's routes. An error is logged by
	// the host and shown to the person as a localized error page, without details.
	Handle(ctx context.Context, req *Request) (*Response, error)
	// RunJob runs a scheduled or one-off job for one tenant. An error makes the host retry
	// it later.
	RunJob(ctx context.Context, job *Job) error
	// OnEvent handles a core event for one tenant (rules changed, user deleted…).
	OnEvent(ctx context.Context, ev *Event) error
}

// Env is what a module gets when it starts: where its data lives. Modules that implement
// Initializer receive it before any other call.
//
// Since protocol version 1.
type Env struct {
	// DSN of the module's own database: a SQLite file, or a PostgreSQL DSN whose search_path
	// is the module's own schema. Empty if the host gives the module no database.
	DSN string
	// DBKind is "sqlite" or "postgres".
	DBKind string
	// DataDir is a directory only this module writes to.
	DataDir string
}

// Initializer is implemented by modules that open their database and run their
// migrations when the host starts them.
type Initializer interface {
	Init(ctx context.Context, env Env) error
}

// UserDataExporter is implemented by modules that hold personal data: ExportUser returns,
// as JSON, everything the module holds of one user of the tenant (P11). A module that does
// not implement it holds nothing of anyone.
//
// Since protocol version 1.
type UserDataExporter interface {
	ExportUser(ctx context.Context, tenant Tenant, userID string) ([]byte, error)
}

// HandlerFunc adapts a function to the Handle method.
type HandlerFunc func(ctx context.Context, req *Request) (*Response, error)

// JobFunc adapts a function to the RunJob method.
type JobFunc func(ctx context.Context, job *Job) error

// EventFunc adapts a function to the OnEvent method.
type EventFunc func(ctx context.Context, ev *Event) error

// Base is a Module built from functions: embed it, or fill its fields. A nil Jobs or
// Events does nothing.
type Base struct {
	Man     Manifest
	Handler HandlerFunc
	Jobs    JobFunc
	Events  EventFunc
}

// Manifest returns Man.
//
// Since protocol version 1.
func (b *Base) Manifest() Manifest { return b.Man }

// Handle calls Handler, or answers 404 without one.
//
// Since protocol version 1.
func (b *Base) Handle(ctx context.Context, req *Request) (*Response, error) {
	if b.Handler == nil {
		return &Response{Status: http.StatusNotFound}, nil
	}
	return b.Handler(ctx, req)
}

// RunJob calls Jobs.
//
// Since protocol version 1.
func (b *Base) RunJob(ctx context.Context, job *Job) error {
	if b.Jobs == nil {
		return nil
	}
	return b.Jobs(ctx, job)
}

// OnEvent calls Events.
//
// Since protocol version 1.
func (b *Base) OnEvent(ctx context.Context, ev *Event) error {
	if b.Events == nil {
		return nil
	}
	return b.Events(ctx, ev)
}

type requestKey struct{}

// RequestFrom returns the module Request of an http.Request served through HTTPHandler.
//
// Since protocol version 1.
func RequestFrom(r *http.Request) *Request {
	req, _ := r.Context().Value(requestKey{}).(*Request)
	return req
}

// CSRFHeader carries, in every Request, the CSRF token the module prints in its forms as a
// hidden field named "_csrf"; the core checks it on every state-changing request.
//
// Since protocol version 1.
const CSRFHeader = "X-Platform-Csrf"

// FragmentHeader is set by an http.Handler (served through HTTPHandler) on an HTML
// response that is a fragment for the tenant's layout; its value is the page title.
const FragmentHeader = "X-Platform-Fragment-Title"

// HTTPHandler lets a module route with an ordinary http.Handler (net/http's ServeMux, or any
// router): the Request becomes an *http.Request (RequestFrom gives it back, with tenant and
// user), and what the handler writes becomes the Response. A handler that sets
// FragmentHeader answers an HTML fragment with that title.
//
// Since protocol version 1.
func HTTPHandler(h http.Handler) HandlerFunc {
	return func(ctx context.Context, req *Request) (*Response, error) {
		target := req.Path
		if req.Query != "" {
			target += "?" + req.Query
		}
		hr, err := http.NewRequestWithContext(context.WithValue(ctx, requestKey{}, req), req.Method, target, bytes.NewReader(req.Body))
		if err != nil {
			return nil, err
		}
		for k, vs := range req.Header {
			hr.Header[k] = append([]string(nil), vs...)
		}
		hr.RemoteAddr = req.RemoteIP + ":0"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, hr)
		res := rec.Result()
		out := &Response{Status: res.StatusCode, Header: res.Header.Clone(), Body: rec.Body.Bytes()}
		if title := out.Header.Get(FragmentHeader); title != "" {
			out.Fragment, out.Title = true, title
			out.Header.Del(FragmentHeader)
		}
		return out, nil
	}
}

// HTML returns a fragment response: the core wraps body in the tenant's layout with title.
//
// Since protocol version 1.
func HTML(status int, title, body string) *Response {
	return &Response{Status: status, Title: title, Fragment: true, Body: []byte(body),
		Header: http.Header{"Content-Type": {"text/html; charset=utf-8"}}}
}

// Redirect returns a 303 to a path of the tenant (the base prefix is added).
//
// Since protocol version 1.
func Redirect(req *Request, path string) *Response {
	return &Response{Status: http.StatusSeeOther, Header: http.Header{"Location": {req.Tenant.Base + path}}}
}

// ErrNoHost is returned by HostAPI calls made outside a host call (no scope to act in).
var ErrNoHost = errors.New("sdk: HostAPI call outside a request, job or event of the host")

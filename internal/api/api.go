// Package api is Sealpost's REST API under /api/v1: lists and their
// options, members, keys and certificates, held messages, the outbound
// queue, notice templates, accounts, API tokens and the audit log. Every
// request is authenticated (an API token, or the admin UI's session with
// its CSRF token) and every use case is authorised by package admin; this
// package only translates between HTTP and the use cases.
//
// Errors are JSON, {"error": {"code": "...", "message": "..."}}, with a
// code that stays stable: unauthenticated, forbidden, not_found, invalid,
// exists, csrf, too_large, unsupported_media_type, method_not_allowed,
// internal.
package api

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/auth"
	"github.com/sealpost/sealpost/internal/obs"
)

// Prefix is where the API lives.
const Prefix = "/api/v1"

// Options configure the API.
type Options struct {
	// Admin runs the use cases; the API makes it act for each request's
	// actor.
	Admin *admin.Service
	Auth  *auth.Auth
	// Notify wakes the outbound queue after something was queued or made
	// due (a released hold, a retried delivery). May be nil.
	Notify  func()
	Logger  *slog.Logger
	Metrics *obs.Metrics
}

// Request body limits.
const (
	maxJSONBody = 1 << 20  // options, templates, accounts
	maxKeyBody  = 16 << 20 // a key file; bulk imports go through the command line
)

// Handler returns the API's handler, to be mounted at Prefix (it expects
// the full path). It serves the OpenAPI document at Prefix+"/openapi.json"
// without authentication.
func Handler(opt Options) http.Handler {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	allowed := map[string][]string{}
	for _, rt := range routes() {
		mux.Handle(rt.pattern(), opt.Metrics.Instrument(rt.pattern(), &endpoint{opt: opt, route: rt}))
		allowed[rt.path] = append(allowed[rt.path], rt.method)
	}
	// Any other method on a known path: a JSON 405 rather than the
	// mux's plain-text one.
	for path, methods := range allowed {
		mux.HandleFunc(Prefix+path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", strings.Join(methods, ", "))
			writeError(w, &Error{http.StatusMethodNotAllowed, "method_not_allowed",
				r.Method + " is not allowed here; this endpoint takes " + strings.Join(methods, ", ")})
		})
	}
	mux.HandleFunc("GET "+Prefix+"/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPIDocument)
	})
	mux.HandleFunc(Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such API endpoint: " + r.Method + " " + r.URL.Path})
	})
	return mux
}

// route is one API endpoint.
type route struct {
	method string
	path   string // under Prefix, with {name} wildcards
	// handle runs the use case; its result is written as JSON (a
	// *download as itself, nil as 204 No Content).
	handle func(c *call) (any, error)
	// created makes a successful response 201 Created.
	created bool
}

func (rt route) pattern() string { return rt.method + " " + Prefix + rt.path }

// endpoint serves one route: authenticate, check CSRF, run, respond.
type endpoint struct {
	opt   Options
	route route
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	id, err := e.opt.Auth.Identify(r, admin.ViaAPI)
	if err == nil {
		err = e.opt.Auth.CheckCSRF(r, id)
	}
	if err != nil {
		e.fail(w, r, err)
		return
	}
	c := &call{w: w, r: r, id: id, svc: e.opt.Admin.As(id.Actor), opt: e.opt}
	if list := r.PathValue("list"); list != "" {
		// Access to the list is settled first: someone who may not
		// manage it learns nothing else, not even what was wrong with
		// the request.
		// Moderators reach the held messages' routes only.
		if err := c.svc.CheckList(r.Context(), list, strings.Contains(r.Pattern, "/holds")); err != nil {
			e.fail(w, r, err)
			return
		}
	}
	out, err := e.route.handle(c)
	if err != nil {
		e.fail(w, r, err)
		return
	}
	switch v := out.(type) {
	case nil:
		w.WriteHeader(http.StatusNoContent)
	case *download:
		v.write(w)
	default:
		status := http.StatusOK
		if e.route.created {
			status = http.StatusCreated
		}
		writeJSON(w, status, v)
	}
}

// fail writes err as a JSON error; an unexpected error is logged with a
// reference and the client gets only the reference.
func (e *endpoint) fail(w http.ResponseWriter, r *http.Request, err error) {
	if optionFailure(w, err) {
		return
	}
	ae := classify(err)
	if ae.Status == http.StatusInternalServerError {
		ref := obs.Ref()
		e.opt.Logger.Error("api request failed", "ref", ref, "route", e.route.pattern(), "err", err)
		ae.Message = "internal error; the server log has the details under reference " + ref
	}
	if ae.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sealpost"`)
	}
	writeError(w, ae)
}

// Error is an API error as the client sees it.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// classify turns a use case's error into the API's error: its status,
// stable code, and a message for a person. The message of an admin error
// is written for the person who asked; it never holds internals.
func classify(err error) *Error {
	var ae *Error
	var rl *auth.RateLimited
	var inUse *admin.KeyInUseError
	msg := func(sentinel error) string {
		return strings.TrimPrefix(err.Error(), sentinel.Error()+": ")
	}
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, admin.ErrUnauthenticated):
		return &Error{http.StatusUnauthorized, "unauthenticated", "authentication required: send an API token as 'Authorization: Bearer TOKEN', or sign in"}
	case errors.Is(err, auth.ErrCSRF):
		return &Error{http.StatusForbidden, "csrf", err.Error()}
	case errors.Is(err, admin.ErrForbidden):
		return &Error{http.StatusForbidden, "forbidden", msg(admin.ErrForbidden)}
	case errors.Is(err, admin.ErrNotFound):
		return &Error{http.StatusNotFound, "not_found", msg(admin.ErrNotFound)}
	case errors.Is(err, admin.ErrExists):
		return &Error{http.StatusConflict, "exists", msg(admin.ErrExists)}
	case errors.As(err, &inUse):
		return keyInUse(inUse)
	case errors.Is(err, admin.ErrInvalid):
		return &Error{http.StatusUnprocessableEntity, "invalid", msg(admin.ErrInvalid)}
	case errors.As(err, &rl):
		return &Error{http.StatusTooManyRequests, "rate_limited", rl.Error()}
	}
	return &Error{Status: http.StatusInternalServerError, Code: "internal"}
}

func writeError(w http.ResponseWriter, e *Error) {
	writeJSON(w, e.Status, map[string]*Error{"error": e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func invalid(format string, args ...any) error {
	return &Error{http.StatusUnprocessableEntity, "invalid", fmt.Sprintf(format, args...)}
}

// download is a response that is a file: a key, a fingerprint, an mbox.
type download struct {
	contentType string
	filename    string
	data        []byte
}

func (d *download) write(w http.ResponseWriter) {
	w.Header().Set("Content-Type", d.contentType)
	if d.filename != "" {
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": d.filename}))
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(d.data)
}

// call is one request to a route.
type call struct {
	w   http.ResponseWriter
	r   *http.Request
	id  *auth.Identity
	svc *admin.Service // acting for the request's actor
	opt Options
}

func (c *call) path(name string) string { return c.r.PathValue(name) }

// pathID reads a numeric path wildcard.
func (c *call) pathID(name string) (int64, error) {
	n, err := strconv.ParseInt(c.r.PathValue(name), 10, 64)
	if err != nil || n <= 0 {
		return 0, &Error{http.StatusNotFound, "not_found", fmt.Sprintf("%s %q is not a number", name, c.r.PathValue(name))}
	}
	return n, nil
}

// query reads a numeric query parameter, def when absent.
func (c *call) queryInt(name string, def int) (int, error) {
	v := c.r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, invalid("query parameter %s=%q is not a number", name, v)
	}
	return n, nil
}

// queryBool reads a true/false query parameter, false when absent.
func (c *call) queryBool(name string) (bool, error) {
	v := c.r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, invalid("query parameter %s=%q is not true or false", name, v)
	}
	return b, nil
}

// decode reads a JSON request body into v, refusing unknown fields.
func (c *call) decode(v any) error {
	if ct, _, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type")); ct != "application/json" {
		return &Error{http.StatusUnsupportedMediaType, "unsupported_media_type", "send the request body as application/json"}
	}
	dec := json.NewDecoder(http.MaxBytesReader(c.w, c.r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &Error{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the request body is larger than %d bytes", maxJSONBody)}
		}
		return invalid("the request body is not the JSON this endpoint takes: %v", err)
	}
	return nil
}

// keyUpload reads a key or certificate sent as a file: a multipart form
// with the file in field "key" (other fields are returned in form), or
// the bare file as the body (application/pgp-keys, application/pkix-cert,
// application/x-pem-file, application/octet-stream or text/plain).
func (c *call) keyUpload() (data []byte, name string, form map[string]string, err error) {
	body := http.MaxBytesReader(c.w, c.r.Body, maxKeyBody)
	ct, params, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	tooBig := func(err error) error {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return &Error{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the key file is larger than %d bytes", maxKeyBody)}
		}
		return invalid("reading the upload: %v", err)
	}
	switch ct {
	case "multipart/form-data":
		form = map[string]string{}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			} else if err != nil {
				return nil, "", nil, tooBig(err)
			}
			b, err := io.ReadAll(p)
			if err != nil {
				return nil, "", nil, tooBig(err)
			}
			if p.FormName() == "key" {
				data, name = b, p.FileName()
			} else {
				form[p.FormName()] = string(b)
			}
		}
		if len(data) == 0 {
			return nil, "", nil, invalid("the form has no key file (field \"key\")")
		}
	case "application/json":
		// The file base64-encoded, for clients that do not make forms.
		var up struct {
			Name     string  `json:"name"`
			Data     []byte  `json:"data"` // base64 (standard, padded)
			Password *string `json:"password"`
		}
		dec := json.NewDecoder(body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&up); err != nil {
			return nil, "", nil, tooBig(err)
		}
		if len(up.Data) == 0 {
			return nil, "", nil, invalid("the JSON body has no file: send it base64-encoded in \"data\"")
		}
		data, name, form = up.Data, cmp.Or(up.Name, "upload"), map[string]string{}
		if up.Password != nil {
			form["password"] = *up.Password
		}
	case "application/pgp-keys", "application/pkix-cert", "application/x-pem-file", "application/x-x509-ca-cert",
		"application/pkcs12", "application/octet-stream", "text/plain":
		if data, err = io.ReadAll(body); err != nil {
			return nil, "", nil, tooBig(err)
		}
		if len(data) == 0 {
			return nil, "", nil, invalid("the request body is empty; send the key file")
		}
		name = "upload"
		if ct == "application/pkcs12" {
			name = "upload.p12"
		}
	default:
		return nil, "", nil, &Error{http.StatusUnsupportedMediaType, "unsupported_media_type",
			"send the file as multipart/form-data (field \"key\"), as JSON with it base64-encoded in \"data\", or as the body with its own type, e.g. application/pgp-keys"}
	}
	return data, name, form, nil
}

// stamp formats a time for JSON: RFC 3339 in UTC, or null when zero.
func stamp(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}

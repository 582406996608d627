package api

import (
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The tests below hold openapi.json to routes(), so that the document
// cannot drift from the API it describes.

// openAPIUnauthenticated are the documented operations that are not
// routes(): they need no credentials and say so with `security: []`.
var openAPIUnauthenticated = map[string]bool{
	"GET /openapi.json": true, // served by Handler itself
	"GET /healthz":      true, // outside /api/v1
	"GET /metrics":      true, // outside /api/v1
}

// openAPIMethods are the keys of a path item that are operations.
var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// openAPIPathItemFields are the other keys a path item may have.
var openAPIPathItemFields = map[string]bool{"$ref": true, "summary": true, "description": true, "servers": true, "parameters": true}

// openAPIOperation is one operation of the document.
type openAPIOperation struct {
	method string // upper case
	path   string // relative to the server, as in paths
	item   map[string]any
	op     map[string]any
}

func (o openAPIOperation) String() string { return o.method + " " + o.path }

func loadOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	return doc
}

// openAPIObject returns v as a JSON object, or nil.
func openAPIObject(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// openAPIOperations returns every operation under paths, sorted.
func openAPIOperations(t *testing.T, doc map[string]any) []openAPIOperation {
	t.Helper()
	paths := openAPIObject(doc["paths"])
	if paths == nil {
		t.Fatal("openapi.json has no paths")
	}
	var out []openAPIOperation
	for path, v := range paths {
		item := openAPIObject(v)
		if item == nil {
			t.Errorf("paths[%q] is not an object", path)
			continue
		}
		for k, v := range item {
			if !slices.Contains(openAPIMethods, k) {
				if !openAPIPathItemFields[k] {
					t.Errorf("paths[%q] has %q, which is neither a method nor a path item field", path, k)
				}
				continue
			}
			op := openAPIObject(v)
			if op == nil {
				t.Errorf("%s %s is not an object", strings.ToUpper(k), path)
				continue
			}
			out = append(out, openAPIOperation{method: strings.ToUpper(k), path: path, item: item, op: op})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// resolveOpenAPI follows a local "$ref" ("#/components/...") in doc; ok
// is false when it does not resolve.
func resolveOpenAPI(doc map[string]any, ref string) (v any, ok bool) {
	rest, found := strings.CutPrefix(ref, "#/")
	if !found {
		return nil, false
	}
	v = doc
	for _, tok := range strings.Split(rest, "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~") // RFC 6901 §4
		m := openAPIObject(v)
		if m == nil {
			return nil, false
		}
		if v, ok = m[tok]; !ok {
			return nil, false
		}
	}
	return v, true
}

// openAPIDeref returns v, or what its "$ref" points to.
func openAPIDeref(doc map[string]any, v any) map[string]any {
	m := openAPIObject(v)
	if ref, ok := m["$ref"].(string); ok {
		r, _ := resolveOpenAPI(doc, ref)
		return openAPIObject(r)
	}
	return m
}

func TestOpenAPIDocument(t *testing.T) {
	doc := loadOpenAPI(t)
	if v := doc["openapi"]; v != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", v)
	}
	servers, _ := doc["servers"].([]any)
	if len(servers) == 0 || openAPIObject(servers[0])["url"] != Prefix {
		t.Errorf("servers = %v, want [{\"url\": %q}]", doc["servers"], Prefix)
	}
	info := openAPIObject(doc["info"])
	if info["title"] == nil || info["version"] == nil {
		t.Errorf("info needs title and version: %v", info)
	}
	schemes := openAPIObject(openAPIObject(doc["components"])["securitySchemes"])
	for _, name := range []string{"bearerAuth", "sessionCookie"} {
		if schemes[name] == nil {
			t.Errorf("components.securitySchemes has no %s", name)
		}
	}
	if sec, _ := doc["security"].([]any); len(sec) == 0 {
		t.Error("openapi.json requires no authentication at the top level")
	}
}

// TestOpenAPIRoutes checks that every route is documented and every
// documented operation is a route.
func TestOpenAPIRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	documented := map[string]bool{}
	for _, o := range openAPIOperations(t, doc) {
		documented[o.String()] = true
	}
	routed := map[string]bool{}
	for _, p := range Routes() {
		method, path, _ := strings.Cut(p, " ")
		key := method + " " + strings.TrimPrefix(path, Prefix)
		routed[key] = true
		if !documented[key] {
			t.Errorf("route %s is not in openapi.json (want paths[%q].%s)", p, strings.TrimPrefix(path, Prefix), strings.ToLower(method))
		}
	}
	for key := range documented {
		if !routed[key] && !openAPIUnauthenticated[key] {
			t.Errorf("openapi.json documents %s, which is not a route", key)
		}
	}
	for key := range openAPIUnauthenticated {
		if !documented[key] {
			t.Errorf("openapi.json does not document %s", key)
		}
	}
}

var openAPICamelCase = regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)

// TestOpenAPIOperations checks what every operation must have.
func TestOpenAPIOperations(t *testing.T) {
	doc := loadOpenAPI(t)
	ids := map[string]string{}
	for _, o := range openAPIOperations(t, doc) {
		id, _ := o.op["operationId"].(string)
		switch {
		case !openAPICamelCase.MatchString(id):
			t.Errorf("%s: operationId %q is not camelCase", o, id)
		case ids[id] != "":
			t.Errorf("%s: operationId %q is %s's too", o, id, ids[id])
		default:
			ids[id] = o.String()
		}
		if s, _ := o.op["summary"].(string); strings.TrimSpace(s) == "" {
			t.Errorf("%s has no summary", o)
		}
		if tags, _ := o.op["tags"].([]any); len(tags) == 0 {
			t.Errorf("%s has no tags", o)
		}
		responses := openAPIObject(o.op["responses"])
		var success bool
		for code := range responses {
			success = success || strings.HasPrefix(code, "2")
		}
		if !success {
			t.Errorf("%s documents no 2xx response", o)
		}
		sec, hasSec := o.op["security"].([]any)
		if openAPIUnauthenticated[o.String()] {
			if !hasSec || len(sec) != 0 {
				t.Errorf("%s needs no authentication, so it must have `security: []`", o)
			}
		} else {
			if responses["401"] == nil {
				t.Errorf("%s does not document 401", o)
			}
			if hasSec && len(sec) == 0 {
				t.Errorf("%s has `security: []`, but the route needs authentication", o)
			}
		}
	}
}

var openAPIWildcard = regexp.MustCompile(`\{([^}]*)\}`)

// TestOpenAPIPathParameters checks that each {name} of a path is a path
// parameter, and each path parameter a {name} of its path.
func TestOpenAPIPathParameters(t *testing.T) {
	doc := loadOpenAPI(t)
	for _, o := range openAPIOperations(t, doc) {
		want := map[string]bool{}
		for _, m := range openAPIWildcard.FindAllStringSubmatch(o.path, -1) {
			want[m[1]] = true
		}
		have := map[string]bool{}
		params, _ := o.item["parameters"].([]any)
		ops, _ := o.op["parameters"].([]any)
		for _, v := range append(append([]any{}, params...), ops...) {
			p := openAPIDeref(doc, v)
			if p == nil {
				t.Errorf("%s: parameter %v does not resolve", o, v)
				continue
			}
			if p["in"] != "path" {
				continue
			}
			name, _ := p["name"].(string)
			have[name] = true
			if p["required"] != true {
				t.Errorf("%s: path parameter %q must be required", o, name)
			}
			if !want[name] {
				t.Errorf("%s: path parameter %q is not in the path", o, name)
			}
		}
		for name := range want {
			if !have[name] {
				t.Errorf("%s: {%s} has no path parameter", o, name)
			}
		}
	}
}

// TestOpenAPIRefs checks that every "$ref" in the document resolves to
// an entry of components.
func TestOpenAPIRefs(t *testing.T) {
	doc := loadOpenAPI(t)
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"]; ok {
				s, _ := ref.(string)
				if _, ok := resolveOpenAPI(doc, s); !ok || !strings.HasPrefix(s, "#/components/") {
					t.Errorf("%s: $ref %v does not resolve to an entry of #/components", at, ref)
				}
			}
			for k, x := range v {
				walk(x, at+"/"+k)
			}
		case []any:
			for i, x := range v {
				walk(x, at+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(doc, "#")
}

// TestOpenAPIResponses checks the success status of created routes and
// that every error response is an Error.
func TestOpenAPIResponses(t *testing.T) {
	doc := loadOpenAPI(t)
	paths := openAPIObject(doc["paths"])
	for _, rt := range routes() {
		op := openAPIObject(openAPIObject(paths[rt.path])[strings.ToLower(rt.method)])
		if op == nil {
			continue // TestOpenAPIRoutes reports it
		}
		responses := openAPIObject(op["responses"])
		if rt.created && responses["201"] == nil {
			t.Errorf("%s creates something but does not document 201", rt.pattern())
		}
		if !rt.created && responses["201"] != nil {
			t.Errorf("%s documents 201, but the route answers 200 (route.created is false)", rt.pattern())
		}
	}
	const errorRef = "#/components/schemas/Error"
	for _, o := range openAPIOperations(t, doc) {
		if o.path == "/healthz" {
			continue // its 503 is the health status, not an API error
		}
		for code, v := range openAPIObject(o.op["responses"]) {
			if n, err := strconv.Atoi(code); err != nil || n < 400 {
				continue
			}
			r := openAPIDeref(doc, v)
			schema := openAPIObject(openAPIObject(openAPIObject(r["content"])["application/json"])["schema"])
			if !openAPIRefersTo(schema, errorRef) {
				t.Errorf("%s: the %s response's application/json schema does not reference %s", o, code, errorRef)
			}
		}
	}
	for name, v := range openAPIObject(openAPIObject(doc["components"])["responses"]) {
		schema := openAPIObject(openAPIObject(openAPIObject(openAPIObject(v)["content"])["application/json"])["schema"])
		if !openAPIRefersTo(schema, errorRef) {
			t.Errorf("components.responses.%s does not reference %s", name, errorRef)
		}
	}
}

// openAPIRefersTo reports whether the schema v is, or combines, ref.
func openAPIRefersTo(v any, ref string) bool {
	switch v := v.(type) {
	case map[string]any:
		if v["$ref"] == ref {
			return true
		}
		for _, k := range []string{"allOf", "anyOf", "oneOf"} {
			if openAPIRefersTo(v[k], ref) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if openAPIRefersTo(x, ref) {
				return true
			}
		}
	}
	return false
}

// openAPIViews are the schemas of the JSON shapes in views.go.
var openAPIViews = map[string]any{
	"Key": keyJSON{}, "MemberKey": memberKeyJSON{}, "Member": memberJSON{}, "List": listJSON{},
	"Hold": holdJSON{}, "Delivery": deliveryJSON{}, "AuditEntry": auditJSON{}, "User": userJSON{},
	"Token": tokenJSON{}, "KeyDetails": keyDetailsJSON{}, "Certificate": certJSON{}, "Template": templateJSON{},
	"Conversation": threadJSON{}, "ImportResult": importJSON{}, "Status": statusJSON{}, "Node": nodeJSON{}, "JobRun": jobRunJSON{},
	"HoldContent": holdContentJSON{}, "HoldAttachment": holdAttachmentJSON{}, "HeaderField": headerFieldJSON{}, "HoldDecision": holdDecisionJSON{},
	"Keyring": keyringJSON{}, "TrustAnchor": trustAnchorJSON{}, "CRL": crlJSON{},
}

// TestOpenAPISchemas checks each view's schema against its Go type: the
// same JSON names, required unless omitempty, and the same JSON types.
func TestOpenAPISchemas(t *testing.T) {
	doc := loadOpenAPI(t)
	schemas := openAPIObject(openAPIObject(doc["components"])["schemas"])
	for name, v := range openAPIViews {
		schema := openAPIObject(schemas[name])
		if schema == nil {
			t.Errorf("components.schemas has no %s", name)
			continue
		}
		props, required := map[string]any{}, map[string]bool{}
		openAPISchemaFields(doc, schema, props, required)
		fields := map[string]reflect.StructField{}
		openAPIGoFields(reflect.TypeOf(v), fields)
		for field, f := range fields {
			prop := openAPIObject(props[field])
			if prop == nil {
				t.Errorf("schema %s has no property %q (Go field %s)", name, field, f.Name)
				continue
			}
			omitempty := strings.Contains(f.Tag.Get("json"), ",omitempty")
			if required[field] == omitempty {
				t.Errorf("schema %s: %q is required=%v, but the Go field is omitempty=%v", name, field, required[field], omitempty)
			}
			if want := openAPIJSONType(f.Type); want != nil && prop["type"] != nil && !reflect.DeepEqual(prop["type"], want) {
				t.Errorf("schema %s: %q has type %v, want %v (Go %s)", name, field, prop["type"], want, f.Type)
			}
		}
		for field := range props {
			if _, ok := fields[field]; !ok {
				t.Errorf("schema %s has property %q, which the Go type does not have", name, field)
			}
		}
	}
}

// openAPISchemaFields collects the properties and required names of an
// object schema, through $ref and allOf.
func openAPISchemaFields(doc, schema map[string]any, props map[string]any, required map[string]bool) {
	schema = openAPIDeref(doc, schema)
	for k, v := range openAPIObject(schema["properties"]) {
		props[k] = v
	}
	req, _ := schema["required"].([]any)
	for _, r := range req {
		required[r.(string)] = true
	}
	all, _ := schema["allOf"].([]any)
	for _, s := range all {
		openAPISchemaFields(doc, openAPIObject(s), props, required)
	}
}

// openAPIGoFields collects the JSON fields of a struct type, with those
// of embedded structs.
func openAPIGoFields(t reflect.Type, out map[string]reflect.StructField) {
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-":
		case f.Anonymous && name == "":
			openAPIGoFields(f.Type, out)
		case f.IsExported() && name != "":
			out[name] = f
		}
	}
}

// openAPIJSONType is the schema "type" a Go type encodes as, or nil when
// the schema says it otherwise (a nullable object).
func openAPIJSONType(t reflect.Type) any {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int64:
		return "integer"
	case reflect.Slice:
		return "array"
	case reflect.Map:
		return "object"
	case reflect.Pointer:
		if t.Elem().Kind() == reflect.String {
			return []any{"string", "null"}
		}
	}
	return nil
}

package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/sealpost/sealpost/internal/admin"
)

// The typed settings of a list: the options table (admin.Option) with
// each option's type, value, group and help, and a PATCH that takes
// typed values and says which fields it refused.

// optionJSON is one option of a list, as the options table describes it.
type optionJSON struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// Value is a boolean for a bool, an integer for a number, else a
	// string.
	Value     any      `json:"value"`
	Group     string   `json:"group"`
	Order     int      `json:"order"`
	Help      string   `json:"help"`
	Choices   []string `json:"choices,omitempty"`
	Min       *int64   `json:"min,omitempty"`
	Max       *int64   `json:"max,omitempty"`
	AdminOnly bool     `json:"admin_only"`
}

// optionView describes o with its value on the list whose value is v.
func optionView(o admin.Option, v string) optionJSON {
	out := optionJSON{Name: o.Name, Type: string(o.Type), Value: v, Group: o.Group, Order: o.Order, Help: o.Help,
		Choices: o.Choices, AdminOnly: o.AdminOnly}
	switch o.Type {
	case admin.TypeBool:
		if b, err := strconv.ParseBool(v); err == nil {
			out.Value = b
		}
	case admin.TypeNumber:
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			out.Value = n
		}
		out.Min = &o.Min
		if o.Max > 0 {
			out.Max = &o.Max
		}
	}
	return out
}

// listOptions returns the list's options in the order the admin UI
// shows them: by group, then by their order in it.
func listOptions(c *call) (any, error) {
	l, err := c.svc.List(c.r.Context(), c.path("list"))
	if err != nil {
		return nil, err
	}
	out := []optionJSON{}
	for _, sec := range admin.Grouped(admin.OptionsFor(l)) {
		for _, o := range sec.Items {
			out = append(out, optionView(o, o.Value(l)))
		}
	}
	return out, nil
}

// patchOptions sets the options the body names, each a JSON boolean,
// integer or string as its type says (a string is taken for any type,
// as `list set` takes it). Every refused option is reported at once, in
// the error's fields, and nothing is saved then; only a value that is
// no boolean, number or string (null, an array) is refused before the
// others are checked. An empty object changes nothing.
func patchOptions(c *call) (any, error) {
	var req map[string]any
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	var assignments []string
	var refused admin.OptionErrors
	for name, v := range req {
		s, err := optionText(v)
		if err != nil {
			refused = append(refused, admin.OptionError{Name: name, Message: fmt.Sprintf("%s: %v", name, err)})
			continue
		}
		assignments = append(assignments, name+"="+s)
	}
	if len(refused) > 0 {
		return nil, refused
	}
	slices.Sort(assignments)
	if len(assignments) > 0 {
		if _, err := c.svc.SetOptions(c.r.Context(), c.path("list"), assignments); err != nil {
			return nil, err
		}
	}
	return listOptions(c)
}

// optionText is a JSON value of an option as `list set` takes it.
func optionText(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case float64:
		// As typed: a number option refuses a fraction itself.
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	}
	return "", errors.New("give a boolean, a number or a string")
}

// fieldsError is the error of a request that named fields it refused:
// an Error with the reason for each field by name.
type fieldsError struct {
	*Error
	Fields map[string]string `json:"fields"`
}

// optionFailure writes err as a 422 with its fields when it is the
// refusal of some options, and reports whether it did.
func optionFailure(w http.ResponseWriter, err error) bool {
	var oe admin.OptionErrors
	if !errors.As(err, &oe) {
		return false
	}
	ae := classify(err)
	writeJSON(w, ae.Status, map[string]fieldsError{"error": {Error: ae, Fields: oe.ByName()}})
	return true
}

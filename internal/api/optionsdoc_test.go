package api

import (
	"slices"
	"testing"

	"github.com/sealpost/sealpost/internal/admin"
)

// The typed settings' shape is held to openapi.json by TestOpenAPISchemas
// like every other view.
func init() { openAPIViews["ListOption"] = optionJSON{} }

// TestOpenAPIMemberSettings: the SetMember schema offers every member
// setting with exactly the values admin.MemberSettings gives it (admin
// as a boolean), and ListOption's groups are the options table's.
func TestOpenAPIMemberSettings(t *testing.T) {
	doc := loadOpenAPI(t)
	schemas := openAPIObject(openAPIObject(doc["components"])["schemas"])
	props := openAPIObject(openAPIObject(schemas["SetMember"])["properties"])
	for _, ms := range admin.MemberSettings() {
		p := openAPIObject(props[ms.Name])
		if p == nil {
			t.Errorf("SetMember has no %s", ms.Name)
			continue
		}
		if ms.Name == "admin" {
			if p["type"] != "boolean" {
				t.Errorf("SetMember.admin is %v, want boolean", p["type"])
			}
			continue
		}
		var enum []string
		for _, v := range p["enum"].([]any) {
			enum = append(enum, v.(string))
		}
		slices.Sort(enum)
		want := slices.Sorted(slices.Values(ms.Choices))
		if !slices.Equal(enum, want) {
			t.Errorf("SetMember.%s offers %v, member set takes %v", ms.Name, enum, want)
		}
	}
	var groups []string
	for _, v := range openAPIObject(openAPIObject(openAPIObject(schemas["ListOption"])["properties"])["group"])["enum"].([]any) {
		groups = append(groups, v.(string))
	}
	var want []string
	for _, g := range admin.OptionGroups() {
		want = append(want, g.Name)
	}
	if !slices.Equal(groups, want) {
		t.Errorf("ListOption.group offers %v, the table has %v", groups, want)
	}
}

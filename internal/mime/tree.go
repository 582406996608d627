package mime

import (
	"fmt"
	"sort"
	"strings"
)

// Tree returns a deterministic, indented description of p for golden tests
// and debugging: one line per part, indented two spaces per nesting level,
// giving the media type, the Content-Type parameters except boundary (sorted
// by name), the transfer encoding and the body length in bytes. Body
// contents are never included.
func Tree(p *Part) string {
	var b strings.Builder
	writeTree(&b, p, 0)
	return b.String()
}

// writeTree appends the lines for p and its descendants to b.
func writeTree(b *strings.Builder, p *Part, depth int) {
	b.WriteString(strings.Repeat("  ", depth))
	b.WriteString(p.MediaType)
	for _, k := range treeParams(p.Params) {
		fmt.Fprintf(b, " %s=%q", k, p.Params[k])
	}
	fmt.Fprintf(b, " cte=%s len=%d\n", transferEncoding(p.Header), len(p.Body))
	for _, c := range p.Children {
		writeTree(b, c, depth+1)
	}
}

// treeParams returns the parameter names shown by Tree, sorted. The
// boundary is left out: it is random and says nothing about structure.
func treeParams(params map[string]string) []string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "boundary" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

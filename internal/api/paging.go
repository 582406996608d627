package api

import (
	"net/url"
	"strconv"
)

// The collections that grow with an installation (lists, a list's
// members, its held messages) come a page at a time: ?offset=N&limit=M,
// at most maxPageSize a page and that many when limit is not given. The
// body stays the array of the page; X-Total-Count says how many there
// are in all, and a Link header (RFC 8288, rel="next") names the next
// page while there is one.

// maxPageSize is the most items a page of a collection holds.
const maxPageSize = 500

// page returns the bounds of the requested page of a collection of
// total items, and sets the headers that describe it.
func (c *call) page(total int) (lo, hi int, err error) {
	offset, limit, err := c.pageAsked()
	if err != nil {
		return 0, 0, err
	}
	c.pageHeaders(offset, limit, total)
	lo = min(offset, total)
	return lo, min(lo+limit, total), nil
}

// pageAsked returns the offset and limit the request asks for, checked.
func (c *call) pageAsked() (offset, limit int, err error) {
	if offset, err = c.queryInt("offset", 0); err != nil {
		return 0, 0, err
	}
	if limit, err = c.queryInt("limit", maxPageSize); err != nil {
		return 0, 0, err
	}
	if limit < 1 || limit > maxPageSize {
		return 0, 0, invalid("limit=%d: a page holds 1 to %d items", limit, maxPageSize)
	}
	return offset, limit, nil
}

// pageHeaders sets the headers that describe the page from offset, of at
// most limit items, of a collection of total items.
func (c *call) pageHeaders(offset, limit, total int) {
	h := c.w.Header()
	h.Set("X-Total-Count", strconv.Itoa(total))
	if hi := offset + limit; offset < total && hi < total { // offset < total: no overflow
		next := *c.r.URL
		q := next.Query()
		q.Set("offset", strconv.Itoa(hi))
		q.Set("limit", strconv.Itoa(limit))
		next.RawQuery = q.Encode()
		h.Set("Link", "<"+(&url.URL{Path: next.Path, RawQuery: next.RawQuery}).String()+`>; rel="next"`)
	}
}

// paged is the page of items the request asks for, of all of them in
// memory (a collection the store does not page).
func paged[T any](c *call, items []T) ([]T, error) {
	lo, hi, err := c.page(len(items))
	if err != nil {
		return nil, err
	}
	return items[lo:hi], nil
}

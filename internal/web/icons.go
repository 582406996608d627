package web

import "html/template"

// icons are the line icons of the pages, drawn on a 24×24 grid, inline
// so that they need no request and follow the text colour.
var icons = map[string]string{
	"dashboard": `<rect x="3.5" y="3.5" width="7" height="7" rx="1.5"/><rect x="13.5" y="3.5" width="7" height="7" rx="1.5"/>` +
		`<rect x="3.5" y="13.5" width="7" height="7" rx="1.5"/><rect x="13.5" y="13.5" width="7" height="7" rx="1.5"/>`,
	"lists":    `<rect x="3" y="5" width="18" height="14" rx="2"/><path d="M3.5 6.5l8.5 6.5 8.5-6.5"/>`,
	"keys":     `<circle cx="8" cy="15" r="4.5"/><path d="M11.2 11.8L20 3M16.5 6.5l3 3M14 9l2 2"/>`,
	"queue":    `<path d="M21 3L10 14"/><path d="M21 3l-6.5 18-4.5-7-7-4.5z"/>`,
	"audit":    `<path d="M9 3.5h6v3H9z"/><path d="M9 5H5.5v15.5h13V5H15"/><path d="M8.5 11h7M8.5 14.5h7M8.5 18h4"/>`,
	"users":    `<circle cx="9" cy="8" r="3.5"/><path d="M2.5 20c.8-3.6 3.4-5.5 6.5-5.5s5.7 1.9 6.5 5.5"/><path d="M15.5 4.7a3.5 3.5 0 010 6.6M17.5 14.8c1.9.8 3.2 2.6 3.8 5.2"/>`,
	"account":  `<circle cx="12" cy="8" r="4"/><path d="M4 21c1-4 4.2-6 8-6s7 2 8 6"/>`,
	"plus":     `<path d="M12 5v14M5 12h14"/>`,
	"download": `<path d="M12 4v11M7 10l5 5 5-5M5 20h14"/>`,
	"file":     `<path d="M6 3h8l4 4v14H6z"/><path d="M14 3v4h4M9 12h6M9 16h6"/>`,
	"logout":   `<path d="M14 4h5v16h-5"/><path d="M10 8l-4 4 4 4M6 12h10"/>`,
	"hold":     `<circle cx="12" cy="12" r="9"/><path d="M10 9v6M14 9v6"/>`,
	"archive":  `<rect x="3" y="4" width="18" height="5" rx="1"/><path d="M5 9v11h14V9M10 13h4"/>`,
	"search":   `<circle cx="11" cy="11" r="7"/><path d="M20 20l-4-4"/>`,
	"alert":    `<path d="M12 3.5l9.5 17h-19z"/><path d="M12 10v4.5M12 17.5v.01"/>`,
	"trash":    `<path d="M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13"/>`,
	"check":    `<path d="M5 12.5l4.5 4.5L19 7.5"/>`,
	"info":     `<circle cx="12" cy="12" r="9"/><path d="M12 11v6M12 7.5v.01"/>`,
	"copy":     `<rect x="8" y="8" width="12" height="12" rx="2"/><path d="M16 8V5a1 1 0 00-1-1H5a1 1 0 00-1 1v10a1 1 0 001 1h3"/>`,
	"lock":     `<rect x="4.5" y="10.5" width="15" height="10" rx="2"/><path d="M8 10.5V7a4 4 0 018 0v3.5"/>`,
	"arrow":    `<path d="M5 12h14M13 6l6 6-6 6"/>`,
	"back":     `<path d="M19 12H5M11 6l-6 6 6 6"/>`,
}

// icon is an icon by name, as inline SVG.
func icon(name string) template.HTML {
	return template.HTML(`<svg class="icon" viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" ` +
		`stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round">` + icons[name] + `</svg>`)
}

// logo is Sealpost's mark: an envelope closed with a seal.
const logo = template.HTML(`<svg class="logo" viewBox="0 0 32 32" aria-hidden="true">` +
	`<rect width="32" height="32" rx="8" class="logo-bg"/>` +
	`<path d="M7 10.5h18v12.5H7z" class="logo-env"/>` +
	`<path d="M7.6 11.2L16 17.6l8.4-6.4" class="logo-flap"/>` +
	`<circle cx="16" cy="18.4" r="3.6" class="logo-seal"/></svg>`)

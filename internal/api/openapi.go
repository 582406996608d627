package api

import _ "embed"

// openAPIDocument describes the API in OpenAPI 3.1; a test checks it
// against routes().
//
//go:embed openapi.json
var openAPIDocument []byte

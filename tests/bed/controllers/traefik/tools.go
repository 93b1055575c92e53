//go:build tools

// Package tools pins the command the bed builds from Traefik.
package tools

import _ "github.com/traefik/traefik/v3/cmd/traefik"

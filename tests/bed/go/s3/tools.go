//go:build tools

// Package tools pins the SeaweedFS command the test bed builds.
package tools

import _ "github.com/seaweedfs/seaweedfs/weed"

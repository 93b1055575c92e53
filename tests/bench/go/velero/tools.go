//go:build tools

// Package tools pins the Velero server/CLI and its AWS object-store plugin that
// tests/bench/velero builds for the side-by-side benchmark.
package tools

import (
	_ "github.com/vmware-tanzu/velero-plugin-for-aws/velero-plugin-for-aws"
	_ "github.com/vmware-tanzu/velero/cmd/velero"
)

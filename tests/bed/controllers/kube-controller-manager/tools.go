//go:build tools

// Package tools pins the command the bed builds for its controllers.
package tools

import _ "k8s.io/kubernetes/cmd/kube-controller-manager"

// Package tools pins the upstream Kubernetes commands that the local test cluster builds.
package tools

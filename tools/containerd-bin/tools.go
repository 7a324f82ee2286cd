// Package tools pins the upstream containerd commands (daemon, ctr, runc shim) that the local
// cluster's node runs.
package tools

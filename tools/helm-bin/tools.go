// Package tools pins the upstream helm command that the local cluster scripts build.
package tools

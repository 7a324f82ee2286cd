// Package tools pins crictl, the CRI client the local cluster uses to take its node apart cleanly.
package tools

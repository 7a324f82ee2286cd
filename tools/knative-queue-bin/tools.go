// Package tools pins Knative Serving's queue-proxy command, which the benchmarks run as a peer.
package tools

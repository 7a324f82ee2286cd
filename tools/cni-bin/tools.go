// Package tools pins the upstream CNI plugins that give the local cluster's pods their network.
package tools

// Package tools pins the upstream etcd server that the local test cluster builds.
package tools

# Pinned versions of the upstream tools of the local test cluster. The wrapper modules in
# tools/*-bin require the same versions; change both together.
K8S_VERSION=v1.36.3
ETCD_VERSION=v3.6.16
HELM_VERSION=v4.3.1
CONTAINERD_VERSION=v2.3.7
CNI_PLUGINS_VERSION=v1.9.1
CRICTL_VERSION=v1.37.0
# Knative Serving's queue-proxy, a benchmark peer only (build-binaries.sh knative-queue).
KNATIVE_SERVING_VERSION=v0.50.0
# The pause image's version as Kubernetes v1.36 names it (build/pause/Makefile); built from the
# kubernetes module's own pause.c.
PAUSE_VERSION=3.10.2
# The Gateway API's standard CRDs (HTTPRoute…), from its Go module: the tests of the HTTPRoute the
# controller writes apply them to the local cluster.
GATEWAY_API_VERSION=v1.6.3

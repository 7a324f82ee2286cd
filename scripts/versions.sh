# Pinned versions of the upstream tools of the local test cluster. The wrapper modules in
# tools/*-bin require the same versions; change both together.
K8S_VERSION=v1.36.3
ETCD_VERSION=v3.6.16
HELM_VERSION=v4.3.1

// Package validate checks the Kubernetes manifests in deploy/k8s offline:
// each document is decoded strictly into the Kubernetes API type its kind
// names (k8s.io/api at the version below), so an unknown or misspelt field,
// a wrong type, or a kind this API does not have fails the test; then the
// references between the manifests are checked (selectors match labels,
// volumes name the ConfigMap, Secret and claim that exist, the StatefulSet
// names the headless Service). It cannot check what only a cluster knows:
// admission, quotas, the image's existence, a storage class.
package validate

// Package monitoring holds the test that keeps the monitoring component
// (deploy/k8s/components/monitoring: alert rules and the Grafana dashboard) true to the
// binaries: every PromQL expression parses and names only metrics that `jiayuan` exports, or
// that the cluster's own exporters (cert-manager, CloudNativePG, Prometheus) do.
package monitoring

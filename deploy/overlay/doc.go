// Package overlay renders the Kubernetes overlays in deploy/k8s with kustomize's Go library (no
// kubectl needed), decodes every object strictly into the Kubernetes API types, or into small
// structs for the custom resources of CloudNativePG and cert-manager, and checks what a
// district's deployment must hold before anything is applied: pinned images, probes on declared
// ports, resources and the restricted security context, a default-deny network policy in every
// namespace, settings the binary actually reads with every required one present, references to
// ConfigMaps and Secrets that exist or are documented, and the district's region tree and
// operating rules loaded by the same code the services use.
//
// Problems are reported all together, each naming the object and field (or the overlay's file
// and key), e.g.
//
//	overlays/jiangnan/rules.yaml: colour_rules[3].category: unknown category "PARKING"
//	Deployment jiayuan-jiangnan/partner: container partner: env JIAYUAN_DB_URI: not a setting of `jiayuan serve partner`
package overlay

package overlay

import (
	"errors"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8sjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Object is one rendered Kubernetes object.
type Object struct {
	APIVersion, Kind, Namespace, Name string
	// Value is the decoded object: a pointer to a k8s.io/api type (*appsv1.Deployment, …) or to
	// one of this package's custom resource types (*Cluster, *Certificate, …).
	Value any
	// YAML is the object as rendered.
	YAML []byte
}

// String names the object for messages: "Deployment jiayuan-jiangnan/partner".
func (o Object) String() string {
	if o.Namespace == "" {
		return o.Kind + " " + o.Name
	}
	return o.Kind + " " + o.Namespace + "/" + o.Name
}

// Rendered is a kustomization directory rendered and decoded.
type Rendered struct {
	Dir     string
	Objects []Object
}

// Load renders the kustomization in dir and decodes every object strictly.
func Load(dir string) (*Rendered, error) {
	docs, err := Render(dir)
	if err != nil {
		return nil, err
	}
	dec, err := newDecoder()
	if err != nil {
		return nil, err
	}
	var (
		objs []Object
		errs []error
	)
	for _, doc := range docs {
		o, err := dec.decode(doc)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		objs = append(objs, o)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return &Rendered{Dir: dir, Objects: objs}, nil
}

// Render builds the kustomization in dir as `kubectl kustomize` does, with files loaded only
// from within the kustomization's own tree, and returns each object's YAML.
func Render(dir string) ([][]byte, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var docs [][]byte
	for _, r := range m.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			return nil, fmt.Errorf("kustomize build %s: %s: %w", dir, r.CurId(), err)
		}
		docs = append(docs, y)
	}
	return docs, nil
}

// scheme holds the built-in API groups a deployment may use; a kind outside it and outside the
// custom resources below is an error rather than something skipped.
func scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, autoscalingv2.AddToScheme, policyv1.AddToScheme,
		networkingv1.AddToScheme, batchv1.AddToScheme, rbacv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// customKinds makes an empty value of each custom resource kind this package knows.
var customKinds = map[schema.GroupVersionKind]func() any{
	{Group: "postgresql.cnpg.io", Version: "v1", Kind: "Cluster"}:         func() any { return new(Cluster) },
	{Group: "postgresql.cnpg.io", Version: "v1", Kind: "Database"}:        func() any { return new(Database) },
	{Group: "postgresql.cnpg.io", Version: "v1", Kind: "ScheduledBackup"}: func() any { return new(ScheduledBackup) },
	{Group: "barmancloud.cnpg.io", Version: "v1", Kind: "ObjectStore"}:    func() any { return new(ObjectStore) },
	{Group: "cert-manager.io", Version: "v1", Kind: "Certificate"}:        func() any { return new(Certificate) },
	{Group: "cert-manager.io", Version: "v1", Kind: "Issuer"}:             func() any { return new(Issuer) },
	{Group: "cert-manager.io", Version: "v1", Kind: "ClusterIssuer"}:      func() any { return new(Issuer) },
	// The cluster's trust bundle of the internal CA (cluster/internal-ca).
	{Group: "trust.cert-manager.io", Version: "v1alpha1", Kind: "Bundle"}: func() any { return new(Bundle) },
	// The monitoring component's (monitoring.go).
	{Group: "monitoring.coreos.com", Version: "v1", Kind: "PodMonitor"}:     func() any { return new(PodMonitor) },
	{Group: "monitoring.coreos.com", Version: "v1", Kind: "PrometheusRule"}: func() any { return new(PrometheusRule) },
}

// Decode decodes one object's YAML strictly: an unknown or duplicate field is an error naming
// it, so a misspelt `replicaz` fails here instead of being dropped by the API server.
func Decode(doc []byte) (Object, error) {
	dec, err := newDecoder()
	if err != nil {
		return Object{}, err
	}
	return dec.decode(doc)
}

type decoder struct {
	scheme *runtime.Scheme
	strict *k8sjson.Serializer
}

func newDecoder() (*decoder, error) {
	s, err := scheme()
	if err != nil {
		return nil, fmt.Errorf("building the API scheme: %w", err)
	}
	return &decoder{scheme: s, strict: k8sjson.NewSerializerWithOptions(k8sjson.DefaultMetaFactory, s, s,
		k8sjson.SerializerOptions{Yaml: true, Strict: true})}, nil
}

func (d *decoder) decode(doc []byte) (Object, error) {
	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &meta); err != nil {
		return Object{}, fmt.Errorf("decoding an object: %w", err)
	}
	o := Object{APIVersion: meta.APIVersion, Kind: meta.Kind, Namespace: meta.Metadata.Namespace, Name: meta.Metadata.Name, YAML: doc}
	gv, err := schema.ParseGroupVersion(meta.APIVersion)
	if err != nil {
		return o, fmt.Errorf("%s: apiVersion: %w", o, err)
	}
	gvk := gv.WithKind(meta.Kind)
	if mk, ok := customKinds[gvk]; ok {
		v := mk()
		if err := yaml.UnmarshalStrict(doc, v); err != nil {
			return o, fmt.Errorf("%s: %s", o, strictMessage(err))
		}
		o.Value = v
		return o, nil
	}
	if !d.scheme.Recognizes(gvk) {
		return o, fmt.Errorf("%s: unknown kind %s (neither a built-in type this check knows nor a custom resource of overlay.Decode)", o, gvk)
	}
	v, _, err := d.strict.Decode(doc, nil, nil)
	if err != nil {
		return o, fmt.Errorf("%s: %s", o, strictMessage(err))
	}
	o.Value = v
	return o, nil
}

// strictMessage trims the decoders' wrapping down to what names the field.
func strictMessage(err error) string {
	msg := err.Error()
	for _, prefix := range []string{"error unmarshaling JSON: while decoding JSON: ", "error unmarshaling JSON: "} {
		msg = strings.TrimPrefix(msg, prefix)
	}
	return msg
}

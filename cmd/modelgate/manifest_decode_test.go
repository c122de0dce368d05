package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// serviceMonitor is the part of the Prometheus Operator's ServiceMonitor
// (monitoring.coreos.com/v1) that the manifests use. k8s.io/api does not
// define it, so any field outside this subset fails the strict decode:
// add it here, with the CRD's JSON name, before using it.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		JobLabel          string               `json:"jobLabel,omitempty"`
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector *struct {
			Any        bool     `json:"any,omitempty"`
			MatchNames []string `json:"matchNames,omitempty"`
		} `json:"namespaceSelector,omitempty"`
		Endpoints []serviceMonitorEndpoint `json:"endpoints"`
	} `json:"spec"`
}

type serviceMonitorEndpoint struct {
	Port          string `json:"port,omitempty"`
	Path          string `json:"path,omitempty"`
	Scheme        string `json:"scheme,omitempty"`
	Interval      string `json:"interval,omitempty"`
	ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
	HonorLabels   bool   `json:"honorLabels,omitempty"`
}

// kustomization is the part of kustomize's Kustomization
// (kustomize.config.k8s.io/v1beta1) that the manifests use.
type kustomization struct {
	metav1.TypeMeta `json:",inline"`
	Namespace       string   `json:"namespace,omitempty"`
	Resources       []string `json:"resources"`
	Images          []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
		Digest  string `json:"digest,omitempty"`
	} `json:"images,omitempty"`
}

// newManifestObject returns an empty object of the Go type for an
// apiVersion and kind, or false for a kind the manifests do not use.
func newManifestObject(apiVersion, kind string) (any, bool) {
	switch apiVersion + " " + kind {
	case "v1 ServiceAccount":
		return &corev1.ServiceAccount{}, true
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, true
	case "v1 Service":
		return &corev1.Service{}, true
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}, true
	case "autoscaling/v2 HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}, true
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, true
	case "monitoring.coreos.com/v1 ServiceMonitor":
		return &serviceMonitor{}, true
	case "kustomize.config.k8s.io/v1beta1 Kustomization":
		return &kustomization{}, true
	}
	return nil, false
}

// splitYAMLDocuments splits a multi-document YAML stream on "---" lines
// and drops documents that hold only comments or whitespace.
func splitYAMLDocuments(data string) []string {
	var docs []string
	for _, doc := range regexp.MustCompile(`(?m)^---[ \t]*$`).
		Split(data, -1) {
		for _, line := range strings.Split(doc, "\n") {
			line = strings.TrimSpace(line)
			if line != "" && !strings.HasPrefix(line, "#") {
				docs = append(docs, doc)
				break
			}
		}
	}
	return docs
}

// decodeManifest decodes one YAML document into the Go type of its
// apiVersion and kind. It fails on duplicate keys, on fields the type
// does not have (matched case-sensitively, as the API server matches
// them), and on values of the wrong type. sigs.k8s.io/json is the
// decoder the API server uses for strict field validation; encoding/json
// would accept "Replicas" for "replicas".
func decodeManifest(doc string) (any, error) {
	js, err := yaml.YAMLToJSONStrict([]byte(doc))
	if err != nil {
		return nil, fmt.Errorf("convert YAML: %w", err)
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(js, &tm); err != nil {
		return nil, fmt.Errorf("read apiVersion and kind: %w", err)
	}
	obj, ok := newManifestObject(tm.APIVersion, tm.Kind)
	if !ok {
		return nil, fmt.Errorf("unexpected apiVersion %q kind %q",
			tm.APIVersion, tm.Kind)
	}
	strictErrs, err := kjson.UnmarshalStrict(js, obj)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", tm.Kind, err)
	}
	if len(strictErrs) > 0 {
		return nil, fmt.Errorf("decode %s: %w", tm.Kind,
			errors.Join(strictErrs...))
	}
	return obj, nil
}

func TestDecodeManifestStrict(t *testing.T) {
	const pdb = "apiVersion: policy/v1\nkind: PodDisruptionBudget\n" +
		"metadata:\n  name: x\n"
	tests := []struct {
		name    string
		doc     string
		wantErr string // "" means the document must decode
	}{
		{"valid", pdb + "spec:\n  maxUnavailable: 1\n", ""},
		{"unknown field", pdb + "spec:\n  maxUnavailabel: 1\n",
			`unknown field "spec.maxUnavailabel"`},
		{"miscased field", pdb + "spec:\n  MaxUnavailable: 1\n",
			`unknown field "spec.MaxUnavailable"`},
		{"wrong type", pdb + "spec:\n  selector: app\n",
			"cannot unmarshal string"},
		{"duplicate key", pdb + "spec:\n  maxUnavailable: 1\n" +
			"  maxUnavailable: 2\n", "already set in map"},
		{"unknown kind", "apiVersion: v1\nkind: Secret\n",
			`unexpected apiVersion "v1" kind "Secret"`},
		{"unknown ServiceMonitor field",
			"apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\n" +
				"spec:\n  endpoints:\n  - port: m\n    intervall: 1s\n",
			`unknown field "spec.endpoints[0].intervall"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeManifest(tt.doc)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("decodeManifest(%q) = %v, want no error", tt.doc, err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("decodeManifest(%q) = nil, want an error "+
					"containing %q", tt.doc, tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(),
				tt.wantErr):
				t.Fatalf("decodeManifest(%q) = %v, want an error "+
					"containing %q", tt.doc, err, tt.wantErr)
			}
		})
	}
}

func TestSplitYAMLDocuments(t *testing.T) {
	in := "# header\n---\na: 1\n---  \n# only a comment\n---\nb: 2\n"
	got := splitYAMLDocuments(in)
	if len(got) != 2 {
		t.Fatalf("splitYAMLDocuments(%q) = %q, want 2 documents", in, got)
	}
	if !strings.Contains(got[0], "a: 1") || !strings.Contains(got[1], "b: 2") {
		t.Errorf("splitYAMLDocuments(%q) = %q, want a: 1 then b: 2", in, got)
	}
}

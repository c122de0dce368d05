package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/modelgate/modelgate/catalog"
	"github.com/modelgate/modelgate/presign"
	"github.com/modelgate/modelgate/server"
)

// manifestDir is the Kubernetes manifests' directory, relative to the
// repository root.
const manifestDir = "deploy/kubernetes"

// manifests holds every object in manifestDir, one of each kind.
type manifests struct {
	files          []string // base names of the YAML files
	kustomization  *kustomization
	serviceAccount *corev1.ServiceAccount
	configMap      *corev1.ConfigMap
	deployment     *appsv1.Deployment
	service        *corev1.Service
	hpa            *autoscalingv2.HorizontalPodAutoscaler
	pdb            *policyv1.PodDisruptionBudget
	serviceMonitor *serviceMonitor
}

// loadManifests decodes every document of every YAML file in
// manifestDir strictly, and fails unless each kind appears exactly once.
func loadManifests(tb testing.TB) *manifests {
	tb.Helper()
	dir := filepath.Join(repoRoot(tb), manifestDir)
	paths, err := filepath.Glob(filepath.Join(dir, "*.y*ml"))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no YAML files in %s: %v", dir, err)
	}
	m := &manifests{}
	for _, path := range paths {
		m.files = append(m.files, filepath.Base(path))
		data, err := os.ReadFile(path)
		if err != nil {
			tb.Fatalf("read %s: %v", path, err)
		}
		for i, doc := range splitYAMLDocuments(string(data)) {
			obj, err := decodeManifest(doc)
			if err != nil {
				tb.Fatalf("%s, document %d: %v", path, i+1, err)
			}
			if err := m.add(obj); err != nil {
				tb.Fatalf("%s, document %d: %v", path, i+1, err)
			}
		}
	}
	if err := m.complete(); err != nil {
		tb.Fatalf("%s: %v", dir, err)
	}
	return m
}

// add stores obj in its field, refusing a second object of one kind.
func (m *manifests) add(obj any) error {
	var dup bool
	switch o := obj.(type) {
	case *kustomization:
		dup, m.kustomization = m.kustomization != nil, o
	case *corev1.ServiceAccount:
		dup, m.serviceAccount = m.serviceAccount != nil, o
	case *corev1.ConfigMap:
		dup, m.configMap = m.configMap != nil, o
	case *appsv1.Deployment:
		dup, m.deployment = m.deployment != nil, o
	case *corev1.Service:
		dup, m.service = m.service != nil, o
	case *autoscalingv2.HorizontalPodAutoscaler:
		dup, m.hpa = m.hpa != nil, o
	case *policyv1.PodDisruptionBudget:
		dup, m.pdb = m.pdb != nil, o
	case *serviceMonitor:
		dup, m.serviceMonitor = m.serviceMonitor != nil, o
	default:
		return fmt.Errorf("no field for %T", obj)
	}
	if dup {
		return fmt.Errorf("second %T; the tests expect one of each kind", obj)
	}
	return nil
}

// complete reports the first kind missing from m.
func (m *manifests) complete() error {
	switch {
	case m.kustomization == nil:
		return fmt.Errorf("no Kustomization")
	case m.serviceAccount == nil:
		return fmt.Errorf("no ServiceAccount")
	case m.configMap == nil:
		return fmt.Errorf("no ConfigMap")
	case m.deployment == nil:
		return fmt.Errorf("no Deployment")
	case m.service == nil:
		return fmt.Errorf("no Service")
	case m.hpa == nil:
		return fmt.Errorf("no HorizontalPodAutoscaler")
	case m.pdb == nil:
		return fmt.Errorf("no PodDisruptionBudget")
	case m.serviceMonitor == nil:
		return fmt.Errorf("no ServiceMonitor")
	}
	return nil
}

// container returns the Deployment's one container.
func (m *manifests) container(tb testing.TB) *corev1.Container {
	tb.Helper()
	cs := m.deployment.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		tb.Fatalf("Deployment has %d containers, want 1", len(cs))
	}
	return &cs[0]
}

// containerEnv returns the environment the container gets: ConfigMap
// keys through envFrom, then its env entries, which win. Entries with
// valueFrom map to "" because their value is only known in a cluster.
func (m *manifests) containerEnv(tb testing.TB) map[string]string {
	tb.Helper()
	c := m.container(tb)
	env := make(map[string]string)
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil ||
			from.ConfigMapRef.Name != m.configMap.Name {
			tb.Fatalf("envFrom %+v, want only configMapRef %q", from,
				m.configMap.Name)
		}
		for k, v := range m.configMap.Data {
			env[from.Prefix+k] = v
		}
	}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	return env
}

// serveOptions parses the container's arguments and environment with
// the real serve flags and validates them, as the binary would.
func (m *manifests) serveOptions(tb testing.TB) *serveOptions {
	tb.Helper()
	args := m.container(tb).Args
	if len(args) == 0 || args[0] != "serve" {
		tb.Fatalf("container args %q, want serve first", args)
	}
	env := m.containerEnv(tb)
	var o serveOptions
	fs := newFlagSet("serve", "", io.Discard)
	o.register(fs)
	if err := parseFlags(fs, args[1:], func(k string) string {
		return env[k]
	}); err != nil {
		tb.Fatalf("serve flags from the manifests: %v", err)
	}
	if err := o.validate(); err != nil {
		tb.Fatalf("serve settings from the manifests: %v", err)
	}
	return &o
}

// listenPort returns the port of a host:port listen address.
func listenPort(tb testing.TB, addr string) int32 {
	tb.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		tb.Fatalf("listen address %q: %v", addr, err)
	}
	n, err := strconv.ParseInt(port, 10, 32)
	if err != nil {
		tb.Fatalf("listen address %q: port: %v", addr, err)
	}
	return int32(n)
}

// emptyBucket is a catalog.API over a bucket with no objects.
type emptyBucket struct{}

func (emptyBucket) ListObjectsV2(context.Context, *s3.ListObjectsV2Input,
	...func(*s3.Options),
) (*s3.ListObjectsV2Output, error) {
	return &s3.ListObjectsV2Output{}, nil
}

func (emptyBucket) GetObject(context.Context, *s3.GetObjectInput,
	...func(*s3.Options),
) (*s3.GetObjectOutput, error) {
	return nil, &types.NoSuchKey{}
}

// fixedPresigner signs every key to the same URL.
type fixedPresigner struct{}

func (fixedPresigner) Presign(context.Context, string, string) (
	presign.URL, error,
) {
	return presign.URL{URL: "http://127.0.0.1:1/object",
		Expires: time.Now().Add(time.Hour)}, nil
}

// gatewayListeners returns the handler serve would run on each port for
// options o: the gateway on --listen and, when set, /metrics on
// --metrics-listen. The catalog has loaded an empty bucket.
func gatewayListeners(tb testing.TB, o *serveOptions) map[int32]http.Handler {
	tb.Helper()
	metrics, err := newMetrics(o, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatalf("newMetrics: %v", err)
	}
	cat, err := catalog.New(emptyBucket{}, catalog.Config{
		Bucket: o.bucket, Root: o.root})
	if err != nil {
		tb.Fatalf("catalog.New: %v", err)
	}
	if _, err := cat.Refresh(context.Background()); err != nil {
		tb.Fatalf("catalog refresh: %v", err)
	}
	srv, err := server.New(server.Config{PublicURL: o.publicURL,
		PageSize: o.pageSize, Metrics: metrics}, cat, fixedPresigner{})
	if err != nil {
		tb.Fatalf("server.New: %v", err)
	}
	handlers := map[int32]http.Handler{listenPort(tb, o.listen): srv}
	if o.metricsListen != "" {
		port := listenPort(tb, o.metricsListen)
		if _, ok := handlers[port]; ok {
			tb.Fatalf("--listen and --metrics-listen share port %d", port)
		}
		handlers[port] = metricsMux(metrics)
	}
	return handlers
}

// containerPort resolves a probe or targetPort, by name or number, to a
// port the container declares.
func containerPort(tb testing.TB, c *corev1.Container,
	p intstr.IntOrString,
) int32 {
	tb.Helper()
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) ||
			(p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp.ContainerPort
		}
	}
	tb.Fatalf("port %s is not a port of container %s", p.String(), c.Name)
	return 0
}

// handlerStatus sends GET path to h and returns the status code.
func handlerStatus(h http.Handler, path string) int {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code
}

func TestManifests(t *testing.T) {
	m := loadManifests(t)
	o := m.serveOptions(t)
	c := m.container(t)

	t.Run("kustomization lists every file", func(t *testing.T) {
		checkKustomization(t, m, c)
	})
	t.Run("environment variables are serve settings", func(t *testing.T) {
		checkEnvNames(t, m, c)
	})
	t.Run("container ports match listeners", func(t *testing.T) {
		checkPorts(t, o, c)
	})
	t.Run("probes reach gateway routes", func(t *testing.T) {
		checkProbes(t, gatewayListeners(t, o), c)
	})
	t.Run("ServiceMonitor scrapes metrics", func(t *testing.T) {
		checkScrape(t, m, gatewayListeners(t, o), c)
	})
	t.Run("grace period covers preStop and drain", func(t *testing.T) {
		checkGracePeriod(t, m, o, c)
	})
	t.Run("selectors match pod labels", func(t *testing.T) {
		checkSelectors(t, m)
	})
	t.Run("IRSA service account", func(t *testing.T) {
		checkServiceAccount(t, m)
	})
	t.Run("pod security", func(t *testing.T) {
		checkPodSecurity(t, m, c)
	})
	t.Run("availability", func(t *testing.T) {
		checkAvailability(t, m)
	})
}

func checkKustomization(t *testing.T, m *manifests, c *corev1.Container) {
	var want []string
	for _, f := range m.files {
		if f != "kustomization.yaml" {
			want = append(want, f)
		}
	}
	got := slices.Clone(m.kustomization.Resources)
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("kustomization resources %q, want the files %q", got, want)
	}
	names := []string{}
	for _, img := range m.kustomization.Images {
		names = append(names, img.Name)
	}
	if !slices.Contains(names, c.Image) {
		t.Errorf("container image %q has no kustomization images entry "+
			"(entries %q)", c.Image, names)
	}
}

func checkEnvNames(t *testing.T, m *manifests, c *corev1.Container) {
	fs := newFlagSet("serve", "", io.Discard)
	new(serveOptions).register(fs)
	known := knownEnv(fs)
	for name := range m.containerEnv(t) {
		if !slices.Contains(known, name) {
			t.Errorf("manifests set %s, which no serve flag reads", name)
		}
	}
	if len(c.Env) == 0 && len(m.configMap.Data) == 0 {
		t.Errorf("manifests set no environment variables")
	}
}

func checkPorts(t *testing.T, o *serveOptions, c *corev1.Container) {
	host, _, _ := net.SplitHostPort(o.listen)
	if host != "" && host != "0.0.0.0" && host != "::" {
		t.Errorf("--listen %q is not every address of the pod; the "+
			"kubelet and Service could not reach it", o.listen)
	}
	want := map[string]int32{"http": listenPort(t, o.listen)}
	if o.metricsListen != "" {
		want["metrics"] = listenPort(t, o.metricsListen)
	}
	got := map[string]int32{}
	for _, p := range c.Ports {
		got[p.Name] = p.ContainerPort
	}
	for name, port := range want {
		if got[name] != port {
			t.Errorf("container port %q = %d, want %d from the listen "+
				"flags", name, got[name], port)
		}
	}
	if len(got) != len(want) {
		t.Errorf("container ports %v, want exactly %v", got, want)
	}
}

func checkProbes(t *testing.T, listeners map[int32]http.Handler,
	c *corev1.Container,
) {
	probes := map[string]*corev1.Probe{"liveness": c.LivenessProbe,
		"readiness": c.ReadinessProbe}
	if c.StartupProbe != nil {
		probes["startup"] = c.StartupProbe
	}
	for kind, p := range probes {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s probe is not an httpGet probe", kind)
			continue
		}
		port := containerPort(t, c, p.HTTPGet.Port)
		h, ok := listeners[port]
		if !ok {
			t.Errorf("%s probe port %d has no listener", kind, port)
			continue
		}
		if got := handlerStatus(h, p.HTTPGet.Path); got != http.StatusOK {
			t.Errorf("%s probe GET %s on port %d = %d, want 200",
				kind, p.HTTPGet.Path, port, got)
		}
	}
	if c.LivenessProbe != nil && c.LivenessProbe.HTTPGet != nil &&
		c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("liveness probe path %q, want /healthz",
			c.LivenessProbe.HTTPGet.Path)
	}
	if c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet != nil &&
		c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness probe path %q, want /readyz",
			c.ReadinessProbe.HTTPGet.Path)
	}
}

// checkScrape follows each ServiceMonitor endpoint to a Service port,
// its target port and the container's listener, and scrapes it.
func checkScrape(t *testing.T, m *manifests,
	listeners map[int32]http.Handler, c *corev1.Container,
) {
	if len(m.serviceMonitor.Spec.Endpoints) == 0 {
		t.Fatalf("ServiceMonitor has no endpoints")
	}
	for _, ep := range m.serviceMonitor.Spec.Endpoints {
		i := slices.IndexFunc(m.service.Spec.Ports,
			func(p corev1.ServicePort) bool { return p.Name == ep.Port })
		if i < 0 {
			t.Errorf("ServiceMonitor port %q is not a Service port", ep.Port)
			continue
		}
		port := containerPort(t, c, m.service.Spec.Ports[i].TargetPort)
		path := ep.Path
		if path == "" {
			path = "/metrics"
		}
		h, ok := listeners[port]
		if !ok {
			t.Errorf("ServiceMonitor port %q leads to container port %d, "+
				"which has no listener", ep.Port, port)
			continue
		}
		if got := handlerStatus(h, path); got != http.StatusOK {
			t.Errorf("scrape GET %s on port %d = %d, want 200", path,
				port, got)
		}
	}
}

func checkGracePeriod(t *testing.T, m *manifests, o *serveOptions,
	c *corev1.Container,
) {
	grace := m.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds
	if grace == nil {
		t.Fatalf("terminationGracePeriodSeconds is unset")
	}
	var preStop time.Duration
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		h := c.Lifecycle.PreStop
		if h.Exec != nil {
			t.Errorf("preStop runs a command, but the image has no shell " +
				"or sleep binary; use the sleep action")
		}
		if h.Sleep != nil {
			preStop = time.Duration(h.Sleep.Seconds) * time.Second
		}
	}
	if preStop <= 0 {
		t.Errorf("no preStop sleep: the pod would stop accepting " +
			"connections before endpoints drop it")
	}
	need := preStop + o.drainTimeout
	if got := time.Duration(*grace) * time.Second; got <= need {
		t.Errorf("terminationGracePeriodSeconds %v, want more than preStop "+
			"%v + --drain-timeout %v", got, preStop, o.drainTimeout)
	}
}

// selects reports whether sel matches the pod template's labels.
func selects(t *testing.T, sel *metav1.LabelSelector,
	podLabels map[string]string,
) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatalf("label selector %v: %v", sel, err)
	}
	return !s.Empty() && s.Matches(labels.Set(podLabels))
}

func checkSelectors(t *testing.T, m *manifests) {
	pod := m.deployment.Spec.Template.Labels
	if !selects(t, m.deployment.Spec.Selector, pod) {
		t.Errorf("Deployment selector does not match its pod labels %v", pod)
	}
	svcSel := &metav1.LabelSelector{MatchLabels: m.service.Spec.Selector}
	if !selects(t, svcSel, pod) {
		t.Errorf("Service selector %v does not match pod labels %v",
			m.service.Spec.Selector, pod)
	}
	if !selects(t, m.pdb.Spec.Selector, pod) {
		t.Errorf("PodDisruptionBudget selector does not match pod labels")
	}
	if !selects(t, &m.serviceMonitor.Spec.Selector, m.service.Labels) {
		t.Errorf("ServiceMonitor selector does not match the Service "+
			"labels %v", m.service.Labels)
	}
	ref := m.hpa.Spec.ScaleTargetRef
	if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" ||
		ref.Name != m.deployment.Name {
		t.Errorf("HorizontalPodAutoscaler targets %+v, want Deployment %s",
			ref, m.deployment.Name)
	}
	for _, tsc := range m.deployment.Spec.Template.Spec.
		TopologySpreadConstraints {
		if !selects(t, tsc.LabelSelector, pod) {
			t.Errorf("topology spread on %s does not select the pods",
				tsc.TopologyKey)
		}
	}
}

func checkServiceAccount(t *testing.T, m *manifests) {
	spec := m.deployment.Spec.Template.Spec
	if spec.ServiceAccountName != m.serviceAccount.Name {
		t.Errorf("pod service account %q, want %q",
			spec.ServiceAccountName, m.serviceAccount.Name)
	}
	arn := m.serviceAccount.Annotations["eks.amazonaws.com/role-arn"]
	roleARN := regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/\S+$`)
	if !roleARN.MatchString(arn) {
		t.Errorf("ServiceAccount eks.amazonaws.com/role-arn = %q, want "+
			"an IAM role ARN", arn)
	}
}

func checkPodSecurity(t *testing.T, m *manifests, c *corev1.Container) {
	pod := m.deployment.Spec.Template.Spec.SecurityContext
	if pod == nil || pod.RunAsNonRoot == nil || !*pod.RunAsNonRoot {
		t.Errorf("pod securityContext.runAsNonRoot is not true")
	}
	if pod == nil || pod.SeccompProfile == nil ||
		pod.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod seccompProfile is not RuntimeDefault")
	}
	sc := c.SecurityContext
	if sc == nil {
		t.Fatalf("container has no securityContext")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("readOnlyRootFilesystem is not true")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("allowPrivilegeEscalation is not false")
	}
	if sc.Capabilities == nil ||
		!slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
		len(sc.Capabilities.Add) != 0 {
		t.Errorf("capabilities %+v, want drop [ALL] and no add",
			sc.Capabilities)
	}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU,
		corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[name]; !ok {
			t.Errorf("no %s request", name)
		}
		if _, ok := c.Resources.Limits[name]; !ok {
			t.Errorf("no %s limit", name)
		}
	}
}

func checkAvailability(t *testing.T, m *manifests) {
	replicas := m.deployment.Spec.Replicas
	if replicas == nil || *replicas != 3 {
		t.Errorf("Deployment replicas %v, want 3", replicas)
	}
	if min := m.hpa.Spec.MinReplicas; min == nil || *min < 2 {
		t.Errorf("HorizontalPodAutoscaler minReplicas %v, want at least 2",
			min)
	}
	if mu := m.pdb.Spec.MaxUnavailable; mu == nil || mu.IntValue() < 1 {
		t.Errorf("PodDisruptionBudget maxUnavailable %v, want at least 1 "+
			"so that node drains can proceed", mu)
	}
	zones := false
	for _, tsc := range m.deployment.Spec.Template.Spec.
		TopologySpreadConstraints {
		zones = zones || tsc.TopologyKey == corev1.LabelTopologyZone
	}
	if !zones {
		t.Errorf("no topology spread across %s", corev1.LabelTopologyZone)
	}
	if !strings.HasPrefix(m.hpa.APIVersion, "autoscaling/v2") {
		t.Errorf("HorizontalPodAutoscaler apiVersion %q, want autoscaling/v2",
			m.hpa.APIVersion)
	}
}

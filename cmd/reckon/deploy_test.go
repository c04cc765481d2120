package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/reckon-dev/reckon/projections"
)

// The deployment files that TestDeployManifests and TestDockerfile keep
// honest.
const (
	deployDir      = "../../deploy"
	kubernetesDir  = deployDir + "/kubernetes"
	dockerfilePath = deployDir + "/Dockerfile"
)

// The parts of Kubernetes objects the deployment tests read.
type (
	k8sMeta struct {
		Name         string            `yaml:"name"`
		GenerateName string            `yaml:"generateName"`
		Labels       map[string]string `yaml:"labels"`
		Annotations  map[string]string `yaml:"annotations"`
	}
	k8sObject struct {
		file       string
		APIVersion string            `yaml:"apiVersion"`
		Kind       string            `yaml:"kind"`
		Metadata   k8sMeta           `yaml:"metadata"`
		StringData map[string]string `yaml:"stringData"` // Secret
		node       *yaml.Node
	}
	k8sWorkload struct { // StatefulSet, Deployment, Job
		Spec struct {
			Replicas    *int   `yaml:"replicas"`
			ServiceName string `yaml:"serviceName"`
			Selector    struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
			Template struct {
				Metadata k8sMeta `yaml:"metadata"`
				Spec     k8sPod  `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	k8sPod struct {
		TerminationGracePeriodSeconds *int64 `yaml:"terminationGracePeriodSeconds"`
		SecurityContext               struct {
			RunAsNonRoot *bool  `yaml:"runAsNonRoot"`
			RunAsUser    *int64 `yaml:"runAsUser"`
		} `yaml:"securityContext"`
		Containers []k8sContainer `yaml:"containers"`
		Volumes    []struct {
			Name      string `yaml:"name"`
			ConfigMap *struct {
				Name string `yaml:"name"`
			} `yaml:"configMap"`
			Secret *struct {
				SecretName string `yaml:"secretName"`
			} `yaml:"secret"`
		} `yaml:"volumes"`
	}
	k8sContainer struct {
		Name    string   `yaml:"name"`
		Image   string   `yaml:"image"`
		Command []string `yaml:"command"`
		Args    []string `yaml:"args"`
		Ports   []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
		} `yaml:"ports"`
		Env []struct {
			Name      string `yaml:"name"`
			Value     string `yaml:"value"`
			ValueFrom *struct {
				FieldRef *struct {
					FieldPath string `yaml:"fieldPath"`
				} `yaml:"fieldRef"`
				SecretKeyRef *struct {
					Name string `yaml:"name"`
					Key  string `yaml:"key"`
				} `yaml:"secretKeyRef"`
			} `yaml:"valueFrom"`
		} `yaml:"env"`
		StartupProbe   *k8sProbe `yaml:"startupProbe"`
		LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
		ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
		Resources      struct {
			Requests map[string]string `yaml:"requests"`
			Limits   map[string]string `yaml:"limits"`
		} `yaml:"resources"`
		SecurityContext struct {
			RunAsNonRoot             *bool  `yaml:"runAsNonRoot"`
			RunAsUser                *int64 `yaml:"runAsUser"`
			AllowPrivilegeEscalation *bool  `yaml:"allowPrivilegeEscalation"`
			ReadOnlyRootFilesystem   *bool  `yaml:"readOnlyRootFilesystem"`
			Capabilities             struct {
				Drop []string `yaml:"drop"`
			} `yaml:"capabilities"`
		} `yaml:"securityContext"`
		VolumeMounts []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
		} `yaml:"volumeMounts"`
	}
	k8sProbe struct {
		HTTPGet *struct {
			Path string `yaml:"path"`
			Port string `yaml:"port"` // a number or a port's name
		} `yaml:"httpGet"`
	}
	k8sService struct {
		Spec struct {
			ClusterIP string            `yaml:"clusterIP"`
			Selector  map[string]string `yaml:"selector"`
			Ports     []struct {
				Name       string `yaml:"name"`
				Port       int    `yaml:"port"`
				TargetPort string `yaml:"targetPort"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
	k8sPDB struct {
		Spec struct {
			Selector struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
		} `yaml:"spec"`
	}
	kustomization struct {
		Resources          []string `yaml:"resources"`
		ConfigMapGenerator []struct {
			Name  string   `yaml:"name"`
			Files []string `yaml:"files"`
		} `yaml:"configMapGenerator"`
		Images []kustomizeImage `yaml:"images"`
	}
	kustomizeImage struct {
		Name    string `yaml:"name"`
		NewName string `yaml:"newName"`
		NewTag  string `yaml:"newTag"`
	}
)

// decodeAs decodes the object's document into v, failing the test on error.
func (o k8sObject) decodeAs(t *testing.T, v any) {
	t.Helper()
	if err := o.node.Decode(v); err != nil {
		t.Fatalf("%s: %s %s: %v", o.file, o.Kind, o.name(), err)
	}
}

func (o k8sObject) name() string {
	if o.Metadata.Name != "" {
		return o.Metadata.Name
	}
	return o.Metadata.GenerateName
}

// readManifests parses every YAML document of file (relative to
// kubernetesDir).
func readManifests(t *testing.T, file string) []k8sObject {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(kubernetesDir, file))
	if err != nil {
		t.Fatal(err)
	}
	var objs []k8sObject
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s: not YAML: %v", file, err)
		}
		o := k8sObject{file: file, node: &n}
		o.decodeAs(t, &o)
		if o.APIVersion == "" || o.Kind == "" || o.name() == "" {
			t.Fatalf("%s: a document without apiVersion, kind and metadata.name or generateName", file)
		}
		objs = append(objs, o)
	}
	if len(objs) == 0 {
		t.Fatalf("%s: no Kubernetes object", file)
	}
	return objs
}

// deployManifests are the objects of deploy/kubernetes: those the
// kustomization applies, and the examples.
type deployManifests struct {
	k        kustomization
	applied  []k8sObject
	examples []k8sObject
}

func readDeployManifests(t *testing.T) deployManifests {
	t.Helper()
	var m deployManifests
	b, err := os.ReadFile(filepath.Join(kubernetesDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &m.k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	generated := map[string]bool{}
	for _, g := range m.k.ConfigMapGenerator {
		for _, f := range g.Files {
			_, path, ok := strings.Cut(f, "=")
			if !ok {
				path = f
			}
			generated[path] = true
		}
	}
	for _, r := range m.k.Resources {
		m.applied = append(m.applied, readManifests(t, r)...)
	}
	// Every manifest beside the kustomization is applied by it; examples
	// live in examples/.
	yamls, _ := filepath.Glob(filepath.Join(kubernetesDir, "*.yaml"))
	for _, y := range yamls {
		f := filepath.Base(y)
		if f != "kustomization.yaml" && !generated[f] && !slices.Contains(m.k.Resources, f) {
			t.Errorf("%s is not listed in kustomization.yaml (resources or configMapGenerator); examples go to examples/", f)
		}
	}
	examples, _ := filepath.Glob(filepath.Join(kubernetesDir, "examples", "*.yaml"))
	for _, e := range examples {
		m.examples = append(m.examples, readManifests(t, filepath.Join("examples", filepath.Base(e)))...)
	}
	return m
}

// one returns the single object of the given kind and name among objs.
func one(t *testing.T, objs []k8sObject, kind, name string) k8sObject {
	t.Helper()
	var found []k8sObject
	for _, o := range objs {
		if o.Kind == kind && o.Metadata.Name == name {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s %q, found %d", kind, name, len(found))
	}
	return found[0]
}

// dockerfileUID is the numeric user the image runs as: the USER of the
// Dockerfile's last stage.
func dockerfileUID(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile(dockerfilePath)
	if err != nil {
		t.Fatal(err)
	}
	_, last, _ := cutLast(string(b), "\nFROM ")
	m := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindAllStringSubmatch(last, -1)
	if len(m) == 0 {
		t.Fatalf("%s: the runtime stage sets no USER: the image would run as root", dockerfilePath)
	}
	user, _, _ := strings.Cut(m[len(m)-1][1], ":")
	uid, err := strconv.ParseInt(user, 10, 64)
	if err != nil || uid == 0 {
		t.Fatalf("%s: USER %s: use a numeric user other than 0, so that Kubernetes can check runAsNonRoot", dockerfilePath, user)
	}
	return uid
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return "", s, false
}

// TestDockerfile checks deploy/Dockerfile: the Go version of go.mod, a
// static reproducible build of ./cmd/reckon stamped with its version, a
// non-root runtime stage and reckon as the entry point.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(dockerfilePath)
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(string(mod))
	if goVersion == nil {
		t.Fatal("go.mod has no go directive")
	}
	froms := regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(df, -1)
	if len(froms) < 2 {
		t.Fatalf("want a multi-stage build, found %d FROM lines", len(froms))
	}
	if want := "golang:" + goVersion[1]; !strings.HasPrefix(froms[0][1], want) {
		t.Errorf("build stage FROM %s: want %s (go.mod's go %s)", froms[0][1], want, goVersion[1])
	}
	build := regexp.MustCompile(`(?m)^RUN .*go build .*$`).FindString(df)
	_ = version // what -X main.version sets: without it, this test does not compile
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X main.version=", "./cmd/reckon"} {
		if !strings.Contains(build, want) {
			t.Errorf("the go build line %q lacks %s", build, want)
		}
	}
	_, runtime, _ := cutLast(df, "\nFROM ")
	if !strings.Contains(runtime, "/usr/local/bin/reckon") {
		t.Errorf("the runtime stage does not install /usr/local/bin/reckon (on distroless's PATH)")
	}
	m := regexp.MustCompile(`(?m)^ENTRYPOINT\s+(.+)$`).FindStringSubmatch(runtime)
	var entry []string
	if m == nil || json.Unmarshal([]byte(m[1]), &entry) != nil || !slices.Equal(entry, []string{"reckon"}) {
		t.Errorf(`the runtime stage's ENTRYPOINT is not ["reckon"] (exec form, so that reckon is PID 1 and gets SIGTERM)`)
	}
	dockerfileUID(t)
}

// TestDeployManifests checks deploy/kubernetes against reckon itself: the
// commands and flags of every container exist; the live workload's
// settings (the ConfigMap's reckon.yaml and the container's environment,
// with the example Secret's values) pass reckon's own configuration
// loading, unknown keys included; every RECKON_… variable is one that
// command reads; probes, Service and Prometheus annotations use the port
// of http.addr; the grace period outlasts shutdown_grace; static
// membership only with stable pod names; pods run as the image's non-root
// user on a read-only root filesystem.
func TestDeployManifests(t *testing.T) {
	m := readDeployManifests(t)
	uid := dockerfileUID(t)
	secrets := map[string]map[string]string{}
	for _, o := range m.examples {
		if o.Kind == "Secret" {
			secrets[o.Metadata.Name] = o.StringData
		}
	}

	var live []k8sObject
	for i, o := range slices.Concat(m.applied, m.examples) {
		applied := i < len(m.applied)
		if o.Kind != "StatefulSet" && o.Kind != "Deployment" && o.Kind != "Job" {
			continue
		}
		var w k8sWorkload
		o.decodeAs(t, &w)
		pod := w.Spec.Template.Spec
		if len(pod.Containers) != 1 {
			t.Fatalf("%s: %s %s: want one container, found %d", o.file, o.Kind, o.name(), len(pod.Containers))
		}
		c := pod.Containers[0]
		where := fmt.Sprintf("%s: %s %s", o.file, o.Kind, o.name())
		checkCommand(t, where, c, secrets)
		checkPodSecurity(t, where, pod, uid)
		if applied {
			if !slices.ContainsFunc(m.k.Images, func(i kustomizeImage) bool { return i.Name == c.Image }) {
				t.Errorf("%s: image %q is not set by kustomization.yaml's images", where, c.Image)
			}
		} else if len(m.k.Images) == 1 && c.Image != m.k.Images[0].NewName+":"+m.k.Images[0].NewTag {
			t.Errorf("%s: image %q, but the kustomization deploys %s:%s", where, c.Image, m.k.Images[0].NewName, m.k.Images[0].NewTag)
		}
		if len(c.Args) > 0 && c.Args[0] == "run" {
			if !applied {
				t.Errorf("%s runs reckon run but is not among the kustomization's resources", where)
			}
			live = append(live, o)
		}
	}
	if len(live) != 1 {
		t.Fatalf("want one StatefulSet or Deployment running reckon run among the kustomization's resources, found %d", len(live))
	}
	checkLive(t, m, live[0], secrets)
}

// checkCommand checks that the container runs reckon (the image's entry
// point) with a real command, real flags and arguments it accepts, that
// every RECKON_… variable is one the command reads, and that the Secret
// keys it names exist.
func checkCommand(t *testing.T, where string, c k8sContainer, secrets map[string]map[string]string) {
	t.Helper()
	if len(c.Command) > 0 {
		t.Errorf("%s: command %q replaces the image's entry point (reckon): give args only", where, c.Command)
	}
	root := newRootCmd(nil, io.Discard, io.Discard)
	cmd, rest, err := root.Find(c.Args)
	if err != nil {
		t.Fatalf("%s: args %q: %v", where, c.Args, err)
	}
	if cmd == root || !cmd.Runnable() {
		t.Fatalf("%s: args %q name no reckon command (see %s --help)", where, c.Args, cmd.CommandPath())
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Fatalf("%s: args %q: %v", where, c.Args, err)
	}
	if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
		t.Errorf("%s: args %q: %v", where, c.Args, err)
	}
	if err := cmd.ValidateRequiredFlags(); err != nil {
		t.Errorf("%s: args %q: %v", where, c.Args, err)
	}

	// The variables a command reads: the settings of the commands that
	// load a configuration, the store's of the projection commands.
	known := map[string]bool{}
	switch {
	case cmd.Flags().Lookup("config") != nil:
		known["RECKON_CONFIG"] = true
		for _, s := range settings() {
			known[s.env()] = true
		}
	case cmd.Flags().Lookup("store") != nil:
		known[envStore], known[envCassandraPassword] = true, true
	}
	for _, e := range c.Env {
		if strings.HasPrefix(e.Name, "RECKON_") && !known[e.Name] {
			hint := "it reads " + strings.Join(slices.Sorted(maps.Keys(known)), ", ")
			best := 4 // suggest a variable at most 3 edits away
			for _, k := range slices.Sorted(maps.Keys(known)) {
				if d := editDistance(k, e.Name); d < best {
					best, hint = d, "did you mean "+k+"?"
				}
			}
			t.Errorf("%s: %s reads no variable %s (%s)", where, cmd.CommandPath(), e.Name, hint)
		}
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			ref := e.ValueFrom.SecretKeyRef
			if _, ok := secrets[ref.Name][ref.Key]; !ok {
				t.Errorf("%s: %s names key %q of Secret %q, which examples/ does not describe", where, e.Name, ref.Key, ref.Name)
			}
		}
	}
	for _, r := range []string{"cpu", "memory"} {
		if c.Resources.Requests[r] == "" || c.Resources.Limits[r] == "" {
			t.Errorf("%s: no %s request and limit", where, r)
		}
	}
}

// checkPodSecurity checks that the pod runs as the image's non-root user,
// without privileges, on a read-only root filesystem.
func checkPodSecurity(t *testing.T, where string, pod k8sPod, uid int64) {
	t.Helper()
	c := pod.Containers[0]
	sc := c.SecurityContext
	nonRoot := firstSet(sc.RunAsNonRoot, pod.SecurityContext.RunAsNonRoot)
	user := firstSet(sc.RunAsUser, pod.SecurityContext.RunAsUser)
	if nonRoot == nil || !*nonRoot {
		t.Errorf("%s: runAsNonRoot is not true", where)
	}
	if user == nil || *user != uid {
		t.Errorf("%s: runAsUser is not %d, the Dockerfile's USER", where, uid)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s: allowPrivilegeEscalation is not false", where)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("%s: readOnlyRootFilesystem is not true", where)
	}
	if !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Errorf("%s: capabilities do not drop ALL", where)
	}
}

// firstSet returns the first non-nil pointer, as a container's security
// context overrides the pod's.
func firstSet[T any](ps ...*T) *T {
	for _, p := range ps {
		if p != nil {
			return p
		}
	}
	return nil
}

// checkLive checks the workload running reckon run against the
// configuration reckon loads in its pod.
func checkLive(t *testing.T, m deployManifests, o k8sObject, secrets map[string]map[string]string) {
	where := fmt.Sprintf("%s: %s %s", o.file, o.Kind, o.name())
	var w k8sWorkload
	o.decodeAs(t, &w)
	pod := w.Spec.Template.Spec
	c := pod.Containers[0]
	labels := w.Spec.Template.Metadata.Labels
	if len(w.Spec.Selector.MatchLabels) == 0 || !matches(w.Spec.Selector.MatchLabels, labels) {
		t.Errorf("%s: the selector does not match the pod's labels", where)
	}
	// A StatefulSet's first pod; a Deployment's pods have random names.
	podName := o.Metadata.Name + "-0"
	if o.Kind == "Deployment" {
		podName = o.Metadata.Name + "-5d8f7c9b4-x2x7q"
	}

	// The pod's view: the mounted volumes, the files and variables.
	mounts := map[string]string{} // mount path → volume name
	for _, vm := range c.VolumeMounts {
		mounts[vm.MountPath] = vm.Name
	}
	volume := func(path string) (mount, rel, name string) {
		for mp, v := range mounts {
			if r, ok := strings.CutPrefix(path, mp+"/"); ok {
				return mp, r, v
			}
		}
		return "", "", ""
	}
	dir := t.TempDir()
	local := func(path string) string { // a file of the pod, on this machine
		_, rel, v := volume(path)
		for _, vol := range pod.Volumes {
			if vol.Name != v {
				continue
			}
			switch {
			case vol.ConfigMap != nil:
				for _, g := range m.k.ConfigMapGenerator {
					for _, f := range g.Files {
						key, file, ok := strings.Cut(f, "=")
						if !ok {
							key, file = filepath.Base(f), f
						}
						if g.Name == vol.ConfigMap.Name && key == rel {
							return filepath.Join(kubernetesDir, file)
						}
					}
				}
				t.Fatalf("%s: %s is in ConfigMap %q, which kustomization.yaml does not generate with key %q", where, path, vol.ConfigMap.Name, rel)
			case vol.Secret != nil:
				value, ok := secrets[vol.Secret.SecretName][rel]
				if !ok {
					t.Fatalf("%s: %s is key %q of Secret %q, which examples/ does not describe", where, path, rel, vol.Secret.SecretName)
				}
				f := filepath.Join(dir, vol.Secret.SecretName, rel)
				if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(f, []byte(value+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				return f
			}
		}
		t.Fatalf("%s: %s is not in a mounted ConfigMap or Secret", where, path)
		return ""
	}

	// reckon config show with the container's arguments and environment
	// prints the configuration reckon run loads in the pod.
	for _, s := range settings() {
		t.Setenv(s.env(), "") // unset: the pod's environment only
	}
	t.Setenv("RECKON_CONFIG", "")
	for _, e := range c.Env {
		if !strings.HasPrefix(e.Name, "RECKON_") {
			continue
		}
		v := e.Value
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
			v = podName
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			v = secrets[e.ValueFrom.SecretKeyRef.Name][e.ValueFrom.SecretKeyRef.Key]
		case e.ValueFrom != nil:
			t.Fatalf("%s: %s: a valueFrom this test does not know", where, e.Name)
		case strings.HasSuffix(e.Name, "_FILE") && strings.HasPrefix(v, "/"):
			v = local(v)
		}
		t.Setenv(e.Name, v)
	}
	args := slices.Clone(c.Args[1:])
	i := slices.Index(args, "--config")
	if i < 0 || i+1 >= len(args) {
		t.Fatalf("%s: reckon run without --config FILE: args %q", where, c.Args)
	}
	args[i+1] = local(args[i+1])
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), append([]string{"config", "show"}, args...), nil, &stdout, &stderr); code != 0 {
		t.Fatalf("%s: reckon refuses the pod's configuration (exit %d):\n%s", where, code, stderr.String())
	}
	var cfg config
	if err := yaml.Unmarshal(stdout.Bytes(), &cfg); err != nil {
		t.Fatalf("reckon config show: %v\n%s", err, stdout.String())
	}

	// Probes, Service and scrape annotations on the port of http.addr,
	// reachable from outside the pod.
	host, port, err := net.SplitHostPort(cfg.HTTP.Addr)
	if err != nil {
		t.Fatalf("%s: http.addr %q: %v", where, cfg.HTTP.Addr, err)
	}
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		t.Errorf("%s: http.addr %s listens on loopback: the kubelet and Prometheus cannot reach it (use 0.0.0.0:%s)", where, cfg.HTTP.Addr, port)
	}
	portOf := func(p string) string { // a container port by number or name
		for _, cp := range c.Ports {
			if cp.Name == p || strconv.Itoa(cp.ContainerPort) == p {
				return strconv.Itoa(cp.ContainerPort)
			}
		}
		return p + " (not a port of the container)"
	}
	for _, p := range []struct {
		name  string
		probe *k8sProbe
		path  string
	}{{"livenessProbe", c.LivenessProbe, "/healthz"}, {"readinessProbe", c.ReadinessProbe, "/readyz"}, {"startupProbe", c.StartupProbe, "/healthz"}} {
		if p.probe == nil && p.name == "startupProbe" {
			continue
		}
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s: no %s httpGet", where, p.name)
			continue
		}
		if p.probe.HTTPGet.Path != p.path {
			t.Errorf("%s: %s on %s: reckon serves it on %s", where, p.name, p.probe.HTTPGet.Path, p.path)
		}
		if got := portOf(p.probe.HTTPGet.Port); got != port {
			t.Errorf("%s: %s on port %s, but http.addr is %s", where, p.name, got, cfg.HTTP.Addr)
		}
	}
	if a := w.Spec.Template.Metadata.Annotations; a["prometheus.io/scrape"] == "true" {
		if a["prometheus.io/port"] != port || a["prometheus.io/path"] != "/metrics" {
			t.Errorf("%s: prometheus.io annotations scrape %s on port %s, but reckon serves /metrics on %s", where, a["prometheus.io/path"], a["prometheus.io/port"], port)
		}
	}
	var svcs int
	for _, s := range m.applied {
		if s.Kind != "Service" {
			continue
		}
		var svc k8sService
		s.decodeAs(t, &svc)
		if !matches(svc.Spec.Selector, labels) {
			continue
		}
		svcs++
		for _, p := range svc.Spec.Ports {
			if got := portOf(p.TargetPort); got != port {
				t.Errorf("%s: Service %s port %s targets %s, but http.addr is %s", s.file, s.name(), p.Name, got, cfg.HTTP.Addr)
			}
		}
	}
	if svcs == 0 {
		t.Errorf("%s: no Service selects the pods (metrics)", where)
	}

	// SIGTERM: the final checkpoint within shutdown_grace, then the HTTP
	// server's shutdown, before the kubelet's SIGKILL.
	g := pod.TerminationGracePeriodSeconds
	if need := cfg.ShutdownGrace + httpShutdownTimeout; g == nil || time.Duration(*g)*time.Second <= need {
		t.Errorf("%s: terminationGracePeriodSeconds %v must exceed shutdown_grace %v plus the HTTP shutdown's %v", where, deref(g), cfg.ShutdownGrace, httpShutdownTimeout)
	}

	// Static membership needs a stable identity: the StatefulSet's pod
	// name, and nothing else.
	switch {
	case o.Kind == "Deployment" && cfg.Kafka.InstanceID != "":
		t.Errorf("%s: kafka.instance_id %q in a Deployment, whose pod names change on every restart: leave it unset, or use a StatefulSet", where, cfg.Kafka.InstanceID)
	case o.Kind == "StatefulSet" && cfg.Kafka.InstanceID != podName:
		t.Errorf("%s: kafka.instance_id is %q in pod %s: take it from metadata.name", where, cfg.Kafka.InstanceID, podName)
	}
	if o.Kind == "StatefulSet" {
		svc := one(t, m.applied, "Service", w.Spec.ServiceName)
		var s k8sService
		svc.decodeAs(t, &s)
		if s.Spec.ClusterIP != "None" || !matches(s.Spec.Selector, labels) {
			t.Errorf("%s: serviceName %s is not a headless Service selecting its pods", where, w.Spec.ServiceName)
		}
	}

	// Tasks move between pods: the projections must be in one shared
	// store, not a SQLite file per pod.
	if !strings.HasPrefix(cfg.Store, "cassandra://") {
		t.Errorf("%s: store %s: pods need one shared store (cassandra://…)", where, cfg.Store)
	} else if _, err := projections.ParseCassandraURL(cfg.Store); err != nil {
		t.Errorf("%s: store: %v", where, err)
	}

	var pdbs int
	for _, p := range m.applied {
		if p.Kind == "PodDisruptionBudget" {
			var pdb k8sPDB
			p.decodeAs(t, &pdb)
			if matches(pdb.Spec.Selector.MatchLabels, labels) {
				pdbs++
			}
		}
	}
	if pdbs != 1 {
		t.Errorf("%s: %d PodDisruptionBudgets select the pods, want 1", where, pdbs)
	}
}

// matches reports whether a non-empty selector selects labels.
func matches(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func deref[T any](p *T) any {
	if p == nil {
		return "unset"
	}
	return *p
}

package validate

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

const dir = "../k8s"

// objects decodes every document of every manifest strictly into its
// Kubernetes type.
func objects(t *testing.T) map[string]any {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", dir, err)
	}
	out := map[string]any{}
	for _, f := range files {
		if filepath.Base(f) == "example-scenario.yaml" {
			continue // a scenario, not a manifest (the QA module's tests parse it)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(b, []byte("\n---\n")) {
			var head struct{ APIVersion, Kind string }
			if err := yaml.Unmarshal(doc, &head); err != nil {
				t.Fatalf("%s doc %d: %v", f, i+1, err)
			}
			var obj any
			switch head.APIVersion + "/" + head.Kind {
			case "v1/Namespace":
				obj = &corev1.Namespace{}
			case "v1/Secret":
				obj = &corev1.Secret{}
			case "v1/Service":
				obj = &corev1.Service{}
			case "v1/PersistentVolumeClaim":
				obj = &corev1.PersistentVolumeClaim{}
			case "v1/ConfigMap":
				obj = &corev1.ConfigMap{}
			case "apps/v1/StatefulSet":
				obj = &appsv1.StatefulSet{}
			case "batch/v1/Job":
				obj = &batchv1.Job{}
			default:
				t.Fatalf("%s doc %d: kind %s/%s is not one this test knows", f, i+1, head.APIVersion, head.Kind)
			}
			if err := yaml.UnmarshalStrict(doc, obj); err != nil {
				t.Errorf("%s doc %d (%s): %v", f, i+1, head.Kind, err)
				continue
			}
			out[head.Kind] = obj
		}
	}
	return out
}

func TestManifestsDecodeStrictlyAndReferToEachOther(t *testing.T) {
	objs := objects(t)
	for _, k := range []string{"Namespace", "Secret", "Service", "StatefulSet", "Job", "PersistentVolumeClaim"} {
		if objs[k] == nil {
			t.Fatalf("no %s", k)
		}
	}
	ns := objs["Namespace"].(*corev1.Namespace).Name
	svc := objs["Service"].(*corev1.Service)
	sts := objs["StatefulSet"].(*appsv1.StatefulSet)
	job := objs["Job"].(*batchv1.Job)
	secret := objs["Secret"].(*corev1.Secret)
	pvc := objs["PersistentVolumeClaim"].(*corev1.PersistentVolumeClaim)
	for _, m := range []struct{ kind, ns string }{{"Service", svc.Namespace}, {"StatefulSet", sts.Namespace}, {"Job", job.Namespace}, {"Secret", secret.Namespace}, {"PersistentVolumeClaim", pvc.Namespace}} {
		if m.ns != ns {
			t.Errorf("%s in namespace %q, want %q", m.kind, m.ns, ns)
		}
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("the Service is not headless: clusterIP %q", svc.Spec.ClusterIP)
	}
	if sts.Spec.ServiceName != svc.Name {
		t.Errorf("StatefulSet serviceName %q, Service %q", sts.Spec.ServiceName, svc.Name)
	}
	labels := sts.Spec.Template.Labels
	for k, v := range sts.Spec.Selector.MatchLabels {
		if labels[k] != v {
			t.Errorf("StatefulSet selector %s=%s does not match its pods", k, v)
		}
	}
	for k, v := range svc.Spec.Selector {
		if labels[k] != v {
			t.Errorf("Service selector %s=%s does not match the nodes", k, v)
		}
	}
	node := sts.Spec.Template.Spec.Containers[0]
	ports := map[string]int32{}
	for _, p := range node.Ports {
		ports[p.Name] = p.ContainerPort
	}
	for _, p := range svc.Spec.Ports {
		if _, ok := ports[p.TargetPort.String()]; !ok {
			t.Errorf("Service port %s targets %q, which the node does not name", p.Name, p.TargetPort.String())
		}
	}
	args := strings.Join(node.Args, " ")
	if !strings.Contains(args, fmt.Sprintf("-api 0.0.0.0:%d", ports["api"])) || !strings.Contains(args, fmt.Sprintf("-listen $(POD_IP):%d", ports["waku"])) {
		t.Errorf("node args %q do not listen on the ports it declares %v", args, ports)
	}
	checkVolumes(t, "StatefulSet", sts.Spec.Template.Spec, secret.Name, pvc.Name)
	checkVolumes(t, "Job", job.Spec.Template.Spec, secret.Name, pvc.Name)
	runner := job.Spec.Template.Spec.Containers[0]
	if runner.Args[0] != "run" || !strings.Contains(strings.Join(runner.Args, " "), "/scenario/scenario.yaml") {
		t.Errorf("the Job does not run the scenario from its ConfigMap: %q", runner.Args)
	}
	if job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("the runner Job restarts: %s", job.Spec.Template.Spec.RestartPolicy)
	}
}

// checkVolumes: every mount names a volume; every Secret and claim a volume
// names exists; the ConfigMap is the scenario's.
func checkVolumes(t *testing.T, kind string, spec corev1.PodSpec, secret, claim string) {
	t.Helper()
	vols := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		vols[v.Name] = v
		switch {
		case v.Secret != nil && v.Secret.SecretName != secret:
			t.Errorf("%s volume %s names Secret %q", kind, v.Name, v.Secret.SecretName)
		case v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName != claim:
			t.Errorf("%s volume %s names claim %q", kind, v.Name, v.PersistentVolumeClaim.ClaimName)
		case v.ConfigMap != nil && v.ConfigMap.Name != "mvdsqa-scenario":
			t.Errorf("%s volume %s names ConfigMap %q", kind, v.Name, v.ConfigMap.Name)
		}
	}
	for _, c := range spec.Containers {
		for _, m := range c.VolumeMounts {
			if _, ok := vols[m.Name]; !ok {
				t.Errorf("%s container %s mounts %s, which is no volume", kind, c.Name, m.Name)
			}
		}
		for _, e := range c.Env {
			if r := e.ValueFrom; r != nil && r.SecretKeyRef != nil && r.SecretKeyRef.Name != secret {
				t.Errorf("%s env %s reads Secret %q", kind, e.Name, r.SecretKeyRef.Name)
			}
		}
	}
}

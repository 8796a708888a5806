// Package deploy_test checks what deploy/ ships: the Helm chart, linted
// and rendered by the real helm CLI, and the compose file.
package deploy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/hookd/hookd/metrics"
)

const chart = "helm/hookd"

type object = map[string]any

// helm runs the helm CLI; it skips the test where there is none, unless
// HOOKD_REQUIRE_HELM is set (.ci/run sets it after installing helm).
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("helm"); err != nil {
		if os.Getenv("HOOKD_REQUIRE_HELM") != "" {
			t.Fatal("HOOKD_REQUIRE_HELM is set and there is no helm")
		}
		t.Skip("no helm CLI (go install helm.sh/helm/v3/cmd/helm@v3.22.0)")
	}
	var out, errOut bytes.Buffer
	cmd := exec.Command("helm", args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil {
		return out.String(), errors.New(errOut.String())
	}
	return out.String(), nil
}

// render runs helm template with the values given as --set pairs and
// returns the objects by kind and name.
func render(t *testing.T, set ...string) map[string]object {
	t.Helper()
	args := []string{"template", "rel", chart, "--namespace", "hooks"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	out, err := helm(t, args...)
	if err != nil {
		t.Fatalf("helm template %v: %v", set, err)
	}
	objs := map[string]object{}
	dec := yaml.NewDecoder(strings.NewReader(out))
	for {
		var o object
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("rendered YAML: %v\n%s", err, out)
		}
		if o == nil {
			continue
		}
		key := o["kind"].(string) + "/" + get(o, "metadata", "name").(string)
		if _, dup := objs[key]; dup {
			t.Fatalf("%s rendered twice", key)
		}
		objs[key] = o
	}
	return objs
}

// get walks maps by key and lists by index ("0", "1", …).
func get(v any, path ...string) any {
	for _, p := range path {
		switch m := v.(type) {
		case map[string]any:
			v = m[p]
		case []any:
			i := 0
			for _, c := range p {
				i = i*10 + int(c-'0')
			}
			if i >= len(m) {
				return nil
			}
			v = m[i]
		default:
			return nil
		}
	}
	return v
}

func kinds(objs map[string]object) []string {
	var out []string
	for k := range objs {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

const dbURL = "database.url=postgres://hookd:pw@db.internal:5432/hookd"

// job returns the migration Job's key: its name ends in a hash of the image
// and the chart.
func job(t *testing.T, objs map[string]object) string {
	t.Helper()
	for k := range objs {
		if strings.HasPrefix(k, "Job/rel-hookd-migrate-") {
			return k
		}
	}
	t.Fatalf("no migration Job in %v", kinds(objs))
	return ""
}

func TestChartLints(t *testing.T) {
	if out, err := helm(t, "lint", chart, "--strict", "--set", dbURL); err != nil {
		t.Fatalf("helm lint: %v\n%s", err, out)
	}
}

// The default install: an api and a worker Deployment with their roles and
// probes, a Service over the api, a migration Job that is no hook, PDBs,
// and a Secret the chart made.
func TestChartRendersRoles(t *testing.T) {
	objs := render(t, dbURL)
	jobName := job(t, objs)
	want := []string{
		"Deployment/rel-hookd-api", "Deployment/rel-hookd-worker", jobName,
		"PodDisruptionBudget/rel-hookd-api", "PodDisruptionBudget/rel-hookd-worker",
		"Secret/rel-hookd-secret", "Service/rel-hookd",
	}
	if got := kinds(objs); !slices.Equal(got, want) {
		t.Fatalf("objects %v, want %v", got, want)
	}
	for _, role := range []string{"api", "worker"} {
		d := objs["Deployment/rel-hookd-"+role]
		c := get(d, "spec", "template", "spec", "containers", "0")
		args := get(c, "args").([]any)
		if !slices.Equal(args, []any{"serve", "--role", role}) {
			t.Errorf("%s args %v", role, args)
		}
		if p := get(c, "livenessProbe", "httpGet", "path"); p != "/healthz" {
			t.Errorf("%s liveness %v", role, p)
		}
		if p := get(c, "readinessProbe", "httpGet", "path"); p != "/readyz" {
			t.Errorf("%s readiness %v", role, p)
		}
		if get(d, "spec", "replicas") != 2 || get(c, "resources", "requests", "cpu") == nil {
			t.Errorf("%s replicas/resources: %v", role, d["spec"])
		}
		if get(d, "spec", "template", "spec", "securityContext", "runAsNonRoot") != true ||
			get(c, "securityContext", "readOnlyRootFilesystem") != true {
			t.Errorf("%s runs as root or writes its filesystem", role)
		}
		if get(d, "spec", "selector", "matchLabels", "app.kubernetes.io/component") != role ||
			get(d, "spec", "template", "metadata", "labels", "app.kubernetes.io/component") != role {
			t.Errorf("%s selector", role)
		}
		env := envOf(c)
		if ref := get(env["HOOKD_DB"], "valueFrom", "secretKeyRef"); get(ref, "name") != "rel-hookd-secret" || get(ref, "key") != "database-url" {
			t.Errorf("%s HOOKD_DB %v", role, env["HOOKD_DB"])
		}
		if get(env["HOOKD_ADMIN_KEY"], "valueFrom", "secretKeyRef", "key") != "admin-key" || get(env["HOOKD_HTTPS_ONLY"], "value") != "true" {
			t.Errorf("%s env %v", role, env)
		}
	}
	if sel := get(objs["Service/rel-hookd"], "spec", "selector", "app.kubernetes.io/component"); sel != "api" {
		t.Errorf("the Service selects %v", sel)
	}
	mj := objs[jobName]
	if ann := get(mj, "metadata", "annotations"); ann != nil {
		t.Errorf("the migration Job has annotations (a Helm hook would block installs): %v", ann)
	}
	if args := get(mj, "spec", "template", "spec", "containers", "0", "args"); !slices.Equal(args.([]any), []any{"migrate"}) {
		t.Errorf("the Job runs %v", args)
	}
	// A new image is a new Job (a Job's pod template cannot change); the
	// same one renders the same name, under helm template too.
	if again := job(t, render(t, dbURL)); again != jobName {
		t.Errorf("the same chart rendered Job %s, then %s", jobName, again)
	}
	if other := job(t, render(t, dbURL, "image.tag=2.0.0")); other == jobName {
		t.Errorf("a new image kept the Job's name %s", other)
	}
	sec := objs["Secret/rel-hookd-secret"]
	if get(sec, "metadata", "annotations", "helm.sh/resource-policy") != "keep" {
		t.Error("the generated Secret (the encryption key) would go with helm uninstall")
	}
	for _, k := range []string{"database-url", "admin-key", "encryption-key"} {
		if v, _ := get(sec, "data", k).(string); v == "" {
			t.Errorf("the Secret has no %s", k)
		}
	}
}

func envOf(container any) map[string]any {
	out := map[string]any{}
	for _, e := range get(container, "env").([]any) {
		out[get(e, "name").(string)] = e
	}
	return out
}

// The switches: an existing Secret (none made), autoscaling (an HPA and no
// fixed replicas), a ServiceMonitor over every pod's /metrics, settings.
func TestChartSwitches(t *testing.T) {
	objs := render(t, "existingSecret=hookd-prod", "secretKeys.databaseURL=url", "worker.autoscaling.enabled=true",
		"serviceMonitor.enabled=true", "config.allowNetworks=10.1.0.0/16", "config.publicURL=https://hooks.example.com", "api.podDisruptionBudget.enabled=false")
	if _, ok := objs["Secret/rel-hookd-secret"]; ok {
		t.Error("a Secret made although an existing one is named")
	}
	for _, role := range []string{"api", "worker"} {
		env := envOf(get(objs["Deployment/rel-hookd-"+role], "spec", "template", "spec", "containers", "0"))
		if ref := get(env["HOOKD_DB"], "valueFrom", "secretKeyRef"); get(ref, "name") != "hookd-prod" || get(ref, "key") != "url" {
			t.Errorf("%s HOOKD_DB %v", role, ref)
		}
		if get(env["HOOKD_ALLOW_NETWORKS"], "value") != "10.1.0.0/16" || get(env["HOOKD_PUBLIC_URL"], "value") != "https://hooks.example.com" {
			t.Errorf("%s settings %v", role, env)
		}
	}
	if ref := get(objs[job(t, objs)], "spec", "template", "spec", "containers", "0", "env", "0", "valueFrom", "secretKeyRef", "name"); ref != "hookd-prod" {
		t.Errorf("the Job's database from %v", ref)
	}
	hpa := objs["HorizontalPodAutoscaler/rel-hookd-worker"]
	if get(hpa, "spec", "scaleTargetRef", "name") != "rel-hookd-worker" {
		t.Errorf("HPA %v", hpa)
	}
	if _, ok := objs["HorizontalPodAutoscaler/rel-hookd-api"]; ok {
		t.Error("an HPA for the api, which is not autoscaled")
	}
	if r := get(objs["Deployment/rel-hookd-worker"], "spec", "replicas"); r != nil {
		t.Errorf("an autoscaled Deployment fixes replicas %v", r)
	}
	if _, ok := objs["PodDisruptionBudget/rel-hookd-api"]; ok {
		t.Error("a PDB switched off is rendered")
	}
	sm := objs["ServiceMonitor/rel-hookd"]
	if get(sm, "spec", "endpoints", "0", "path") != "/metrics" {
		t.Errorf("ServiceMonitor %v", sm)
	}
	svc := objs["Service/rel-hookd-metrics"]
	if get(svc, "spec", "selector", "app.kubernetes.io/component") != nil || get(svc, "metadata", "labels", "app.kubernetes.io/component") != "metrics" {
		t.Errorf("the metrics Service must select api and worker pods: %v", svc)
	}
}

// Without a database, or with a SQLite one, the chart refuses to render and
// says why.
func TestChartRefusesWithoutPostgres(t *testing.T) {
	for _, set := range []string{"", "database.url=/var/lib/hookd/hookd.db"} {
		args := []string{"template", "rel", chart}
		if set != "" {
			args = append(args, "--set", set)
		}
		_, err := helm(t, args...)
		if err == nil || !strings.Contains(err.Error(), "postgres://") {
			t.Errorf("helm template --set %q: %v", set, err)
		}
	}
}

// compose.yaml: PostgreSQL, one migration, then an api and a worker on the
// same image and database.
func TestComposeFile(t *testing.T) {
	raw, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f object
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	svc := func(name string) any { return get(f, "services", name) }
	if img := get(svc("postgres"), "image"); img == nil || get(svc("postgres"), "healthcheck") == nil {
		t.Errorf("postgres %v", svc("postgres"))
	}
	if get(svc("migrate"), "depends_on", "postgres", "condition") != "service_healthy" ||
		!slices.Equal(get(svc("migrate"), "command").([]any), []any{"migrate"}) {
		t.Errorf("migrate %v", svc("migrate"))
	}
	for _, role := range []string{"api", "worker"} {
		s := svc(role)
		if !slices.Equal(get(s, "command").([]any), []any{"serve", "--role", role}) ||
			get(s, "depends_on", "migrate", "condition") != "service_completed_successfully" {
			t.Errorf("%s %v", role, s)
		}
		if db, _ := get(s, "environment", "HOOKD_DB").(string); !strings.Contains(db, "postgres://") || get(s, "image") != get(svc("migrate"), "image") {
			t.Errorf("%s environment %v", role, s)
		}
	}
	if ports := get(svc("api"), "ports"); ports == nil || get(svc("worker"), "ports") != nil {
		t.Error("the api, and only the api, publishes a port")
	}
}

// The Grafana dashboard asks only for metrics hookd serves.
func TestDashboardMetricsExist(t *testing.T) {
	raw, err := os.ReadFile("grafana/hookd.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	metrics.New().Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	served := rec.Body.String()
	name := regexp.MustCompile(`\b(hookd_[a-z_]+|http_client_[a-z_]+|process_[a-z_]+)`)
	n := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, m := range name.FindAllString(tg.Expr, -1) {
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_count"), "_sum")
				if !strings.Contains(served, "# TYPE "+base+" ") {
					t.Errorf("panel %q asks for %s, which hookd does not serve", p.Title, m)
				}
				n++
			}
			// The job chosen at the top filters every series: two hookd
			// deployments in one Prometheus are not summed together.
			if got, want := strings.Count(tg.Expr, `job=~"$job"`), len(name.FindAllString(tg.Expr, -1)); got != want {
				t.Errorf("panel %q: %d of its %d series filtered by $job: %s", p.Title, got, want, tg.Expr)
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d metrics in the dashboard", n)
	}
}

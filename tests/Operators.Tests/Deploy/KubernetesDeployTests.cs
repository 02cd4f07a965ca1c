using System.Text.Json;
using static Inference.Operators.Tests.Deploy.Manifests;

namespace Inference.Operators.Tests.Deploy;

/// <summary>
/// deploy/k8s: every overlay renders with `kubectl kustomize`, every object validates against the Kubernetes schemas
/// (kubernetes-models, validate.mjs), and the objects fit together: probes on the worker's gRPC port, drain time,
/// GPUs, the gateways' worker discovery, NetworkPolicies, the HPA's metric and every Secret and ConfigMap referenced.
/// </summary>
public sealed class KubernetesDeployTests
{
    private const int WorkerPort = 9000;
    private const string InFlightMetric = "inference_gateway_requests_in_flight";

    public static TheoryData<string> Overlays => new() { "dev", "production", "production-managed-data" };

    private static Manifests Render(string overlay) => new(DeployTools.RenderValid($"deploy/k8s/overlays/{overlay}"));

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Overlay_Renders_EveryObjectValidAndImagesSet(string overlay)
    {
        Manifests m = Render(overlay);

        Assert.NotEmpty(m.All);
        foreach ((string owner, JsonElement template) in m.PodTemplates())
        {
            foreach (JsonElement c in Items(template.GetProperty("spec"), "containers"))
            {
                string image = Str(c, "image")!;
                Assert.True(image.Contains(':', StringComparison.Ordinal) && !image.EndsWith(":latest", StringComparison.Ordinal), $"{owner} image {image} has no pinned tag");
            }
        }

        Assert.Equal("1", Str(m.Get("ConfigMap", "inference-grafana-dashboard"), "metadata", "labels", "grafana_dashboard"));
        Assert.NotNull(m.Find("ConfigMap", "inference-prometheus-rules"));
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Worker_ProbesDrainAndHeadlessService_OnGrpcPort(string overlay)
    {
        Manifests m = Render(overlay);
        JsonElement worker = m.Get("StatefulSet", "inference-worker");
        JsonElement c = Container(worker, "worker");

        Assert.Contains(Items(c, "ports"), p => p.GetProperty("containerPort").GetInt32() == WorkerPort);
        foreach (string probe in new[] { "startupProbe", "readinessProbe", "livenessProbe" })
        {
            Assert.True(c.TryGetProperty(probe, out JsonElement p), $"worker has no {probe}");
            Assert.Equal(WorkerPort, p.GetProperty("grpc").GetProperty("port").GetInt32());
        }

        string[] preStop = Items(c.GetProperty("lifecycle").GetProperty("preStop").GetProperty("exec"), "command").Select(x => x.GetString()!).ToArray();
        Assert.Equal("sleep", preStop[0]);
        string[] args = Args(c);
        Assert.Equal("serve", args[0]);
        Assert.Equal(["0.0.0.0"], Flag(args, "--host"));
        Assert.Equal([WorkerPort.ToString(System.Globalization.CultureInfo.InvariantCulture)], Flag(args, "--port"));
        int drain = int.Parse(Flag(args, "--drain-timeout").Single(), System.Globalization.CultureInfo.InvariantCulture);
        int grace = worker.GetProperty("spec").GetProperty("template").GetProperty("spec").GetProperty("terminationGracePeriodSeconds").GetInt32();
        Assert.True(grace >= int.Parse(preStop[1], System.Globalization.CultureInfo.InvariantCulture) + drain, $"grace {grace} s < preStop {preStop[1]} s + drain {drain} s");

        string serviceName = Str(worker, "spec", "serviceName")!;
        JsonElement headless = m.Get("Service", serviceName);
        Assert.Equal("None", Str(headless, "spec", "clusterIP"));
        JsonElement workerLabels = Labels(worker.GetProperty("spec").GetProperty("template"));
        Assert.All(headless.GetProperty("spec").GetProperty("selector").EnumerateObject(), l => Assert.Equal(l.Value.GetString(), Str(workerLabels, l.Name)));
        Assert.Contains(Items(headless.GetProperty("spec"), "ports"), p => p.GetProperty("port").GetInt32() == WorkerPort);

        // The gateways and the platform find the workers through that Service's DNS name, none by a fixed URL.
        foreach ((string deployment, string container) in new[] { ("inference-gateway", "gateway"), ("inference-platform", "platform") })
        {
            string[] routerArgs = Args(Container(m.Get("Deployment", deployment), container));
            Assert.Equal([$"{serviceName}:{WorkerPort}"], Flag(routerArgs, "--worker-dns"));
            Assert.Empty(Flag(routerArgs, "--worker"));
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void PrefixCacheSecret_OneSecretFile_InWorkersGatewaysAndPlatform(string overlay)
    {
        // Workers key their prefix-cache hashes with the secret; prefix-affinity routing hashes prompts the same way
        // only when every router reads the same Secret.
        Manifests m = Render(overlay);
        string? secretName = null;
        foreach ((string kind, string workload, string container) in new[]
        {
            ("StatefulSet", "inference-worker", "worker"), ("Deployment", "inference-gateway", "gateway"), ("Deployment", "inference-platform", "platform"),
        })
        {
            JsonElement w = m.Get(kind, workload);
            JsonElement c = Container(w, container);
            string file = Assert.Single(Flag(Args(c), "--prefix-cache-secret-file"));
            JsonElement mount = Assert.Single(Items(c, "volumeMounts"), v => file.StartsWith(Str(v, "mountPath")! + "/", StringComparison.Ordinal));
            JsonElement volume = Assert.Single(Items(w.GetProperty("spec").GetProperty("template").GetProperty("spec"), "volumes"), v => Str(v, "name") == Str(mount, "name"));
            string secret = Str(volume, "secret", "secretName") ?? throw new Xunit.Sdk.XunitException($"{workload}: {file} is not on a Secret volume");
            secretName ??= secret;
            Assert.Equal(secretName, secret);
            Assert.Equal(Path.GetFileName(file), Assert.Single(m.Get("Secret", secret).GetProperty("data").EnumerateObject()).Name);
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void NetworkPolicies_OnlyGatewaysReachWorkers_DataStoresOnlyFromGatewayAndPlatform(string overlay)
    {
        Manifests m = Render(overlay);
        var templates = m.PodTemplates().ToDictionary(t => t.Owner, t => Labels(t.Template));

        string[] Admitted(string policyName, int port)
        {
            JsonElement spec = m.Get("NetworkPolicy", policyName).GetProperty("spec");
            Assert.Contains("Ingress", Items(spec, "policyTypes").Select(p => p.GetString()));
            var admitted = new HashSet<string>();
            foreach (JsonElement rule in Items(spec, "ingress"))
            {
                Assert.All(Items(rule, "ports"), p => Assert.Equal(port, p.GetProperty("port").GetInt32()));
                Assert.NotEmpty(Items(rule, "ports"));
                Assert.NotEmpty(Items(rule, "from"));
                foreach (JsonElement from in Items(rule, "from"))
                {
                    Assert.False(from.TryGetProperty("ipBlock", out _) || from.TryGetProperty("namespaceSelector", out _), $"{policyName} admits more than pods of this namespace");
                    admitted.UnionWith(templates.Where(t => Selects(from.GetProperty("podSelector"), t.Value)).Select(t => t.Key));
                }
            }

            return admitted.Order(StringComparer.Ordinal).ToArray();
        }

        JsonElement workerPolicy = m.Get("NetworkPolicy", "inference-worker");
        Assert.True(Selects(workerPolicy.GetProperty("spec").GetProperty("podSelector"), templates["StatefulSet/inference-worker"]));
        Assert.Equal(["Deployment/inference-gateway", "Deployment/inference-platform"], Admitted("inference-worker", WorkerPort));
        if (m.Find("StatefulSet", "inference-redis") is not null)
        {
            Assert.Equal(["Deployment/inference-gateway", "Deployment/inference-platform"], Admitted("inference-redis", 6379));
            Assert.Equal(["Deployment/inference-platform"], Admitted("inference-postgres", 5432));
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void References_EverySecretAndConfigMapExists(string overlay)
    {
        Manifests m = Render(overlay);
        var secrets = m.OfKind("Secret").Select(s => Str(s, "metadata", "name")!).ToHashSet();
        var configMaps = m.OfKind("ConfigMap").Select(s => Str(s, "metadata", "name")!).ToHashSet();
        var claims = m.OfKind("PersistentVolumeClaim").Select(s => Str(s, "metadata", "name")!).ToHashSet();
        int references = 0;
        foreach ((string owner, JsonElement template) in m.PodTemplates())
        {
            JsonElement spec = template.GetProperty("spec");
            foreach (JsonElement v in Items(spec, "volumes"))
            {
                Check(owner, secrets, Str(v, "secret", "secretName"));
                Check(owner, configMaps, Str(v, "configMap", "name"));
                Check(owner, claims, Str(v, "persistentVolumeClaim", "claimName"));
            }

            foreach (JsonElement c in Items(spec, "containers"))
            {
                foreach (JsonElement e in Items(c, "env"))
                {
                    Check(owner, secrets, Str(e, "valueFrom", "secretKeyRef", "name"));
                    Check(owner, configMaps, Str(e, "valueFrom", "configMapKeyRef", "name"));
                }

                foreach (JsonElement e in Items(c, "envFrom"))
                {
                    Check(owner, secrets, Str(e, "secretRef", "name"));
                    Check(owner, configMaps, Str(e, "configMapRef", "name"));
                }
            }
        }

        Assert.True(references >= 4, $"only {references} references found: the walk above misses some");

        void Check(string owner, HashSet<string> names, string? name)
        {
            if (name is not null)
            {
                references++;
                Assert.True(names.Contains(name), $"{owner} references {name}, which is not rendered");
            }
        }
    }

    [Theory]
    [InlineData("production")]
    [InlineData("production-managed-data")]
    public void Production_GpuWorkersHpaPdbServiceMonitor(string overlay)
    {
        Manifests m = Render(overlay);
        JsonElement worker = m.Get("StatefulSet", "inference-worker");
        JsonElement podSpec = worker.GetProperty("spec").GetProperty("template").GetProperty("spec");
        JsonElement c = Container(worker, "worker");

        Assert.Equal("1", Str(c, "resources", "limits", "nvidia.com/gpu"));
        Assert.Equal(["cuda:0"], Flag(Args(c), "--device"));
        Assert.Contains(Items(podSpec, "tolerations"), t => Str(t, "key") == "nvidia.com/gpu" && Str(t, "effect") == "NoSchedule");
        Assert.Equal("true", Str(podSpec, "nodeSelector", "nvidia.com/gpu.present"));
        JsonElement modelVolume = Items(podSpec, "volumes").Single(v => Str(v, "name") == "model");
        Assert.Equal("true", Str(modelVolume, "persistentVolumeClaim", "readOnly"));
        Assert.Contains(Items(c, "volumeMounts"), v => Str(v, "name") == "model" && Str(v, "readOnly") == "true");
        Assert.Equal("/models/model", Flag(Args(c), "--model").Single());

        JsonElement workerLabels = Labels(worker.GetProperty("spec").GetProperty("template"));
        JsonElement pdb = m.Get("PodDisruptionBudget", "inference-worker");
        Assert.True(Selects(pdb.GetProperty("spec").GetProperty("selector"), workerLabels));
        Assert.DoesNotContain(m.PodTemplates(), t => t.Owner != "StatefulSet/inference-worker" && Selects(pdb.GetProperty("spec").GetProperty("selector"), Labels(t.Template)));

        JsonElement hpa = m.Get("HorizontalPodAutoscaler", "inference-gateway");
        Assert.Equal("autoscaling/v2", Str(hpa, "apiVersion"));
        Assert.Equal("Deployment", Str(hpa, "spec", "scaleTargetRef", "kind"));
        Assert.Equal("inference-gateway", Str(hpa, "spec", "scaleTargetRef", "name"));
        JsonElement metric = Items(hpa.GetProperty("spec"), "metrics").Single();
        Assert.Equal("Pods", Str(metric, "type"));
        Assert.Equal(InFlightMetric, Str(metric, "pods", "metric", "name"));
        // While Redis is away each gateway enforces 1/N of a limit: N is the most gateways the HPA may run.
        Assert.Equal([Str(hpa, "spec", "maxReplicas")!], Flag(Args(Container(m.Get("Deployment", "inference-gateway"), "gateway")), "--replicas"));

        // The metric the HPA asks for is one the gateway exports and prometheus-adapter's rule serves.
        Assert.Contains($"\"{InFlightMetric}\"", File.ReadAllText(Inference.Gateway.Tests.Infrastructure.RepoFiles.InRepo("src/Gateway/Metrics/GatewayMetrics.cs")), StringComparison.Ordinal);
        var adapter = new Manifests(DeployTools.RenderValid("deploy/k8s/prometheus-adapter"));
        string rules = Str(adapter.Get("ConfigMap", "prometheus-adapter-inference"), "data", "config.yaml")!;
        Assert.Contains($"as: {InFlightMetric}", rules, StringComparison.Ordinal);
        Assert.Contains($"seriesQuery: '{InFlightMetric}{{", rules, StringComparison.Ordinal);

        JsonElement monitor = m.Get("ServiceMonitor", "inference");
        foreach (string service in new[] { "inference-gateway", "inference-platform" })
        {
            JsonElement svc = m.Get("Service", service);
            Assert.True(Selects(monitor.GetProperty("spec").GetProperty("selector"), svc.GetProperty("metadata").GetProperty("labels")), $"ServiceMonitor misses {service}");
            Assert.Contains(Items(svc.GetProperty("spec"), "ports"), p => Str(p, "name") == Str(Items(monitor.GetProperty("spec"), "endpoints").Single(), "port"));
        }
    }

    [Fact]
    public void Dev_CpuWorkerWithBundledModel_NoGpu()
    {
        Manifests m = Render("dev");
        JsonElement c = Container(m.Get("StatefulSet", "inference-worker"), "worker");

        Assert.Null(Str(c, "resources", "limits", "nvidia.com/gpu"));
        Assert.Equal(["cpu"], Flag(Args(c), "--device"));
        Assert.Equal(["/app/models/brown-llama-5m"], Flag(Args(c), "--model"));
        Assert.Empty(m.OfKind("HorizontalPodAutoscaler"));
        Assert.Equal("None", Str(m.Get("Service", "inference-worker"), "spec", "clusterIP"));
    }

    [Fact]
    public void ManagedData_NoInClusterStores_PointsAtManagedEndpoints()
    {
        Manifests m = Render("production-managed-data");

        Assert.Null(m.Find("StatefulSet", "inference-redis"));
        Assert.Null(m.Find("StatefulSet", "inference-postgres"));
        JsonElement config = m.FindGenerated("ConfigMap", "inference-config") ?? throw new Xunit.Sdk.XunitException("no inference-config");
        Assert.DoesNotContain("inference-redis", Str(config, "data", "INFERENCE_REDIS"), StringComparison.Ordinal);
        JsonElement db = m.FindGenerated("Secret", "inference-platform-db") ?? throw new Xunit.Sdk.XunitException("no inference-platform-db");
        string url = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(Str(db, "data", "database-url")!));
        Assert.DoesNotContain("inference-postgres", url, StringComparison.Ordinal);
    }

    [Fact]
    public void Validator_InvalidObjectOrUnknownKind_Fails()
    {
        DeployTools.Validation v = ValidateYaml("""
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: bad}
            spec:
              replicas: two
              selector: {matchLabels: {a: b}}
              template:
                metadata: {labels: {a: b}}
                spec:
                  containers: [{name: c, image: i}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: fine}
            spec:
              ports: [{port: 80}]
            ---
            apiVersion: example.com/v1
            kind: Unknown
            metadata: {name: stranger}
            ---
            {}
            """);

        Assert.Equal(1, v.ExitCode);
        Assert.Contains("FAIL apps/v1 Deployment bad: /spec/replicas must be integer", v.Report, StringComparison.Ordinal);
        Assert.Contains("ok   v1 Service fine", v.Report, StringComparison.Ordinal);
        Assert.Contains("FAIL example.com/v1 Unknown stranger: unknown apiVersion/kind", v.Report, StringComparison.Ordinal);
        Assert.Contains("empty document", v.Report, StringComparison.Ordinal);
        Assert.Contains("1 valid, 3 invalid", v.Report, StringComparison.Ordinal);
    }

    [Fact]
    public void Validator_UnknownField_FailsNamingItsPath_MapsTakeAnyKey()
    {
        // The schemas alone let these through; kubectl apply (strict field validation) refuses them.
        DeployTools.Validation v = ValidateYaml("""
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: typo, labels: {any-key.example.com/x: y}, annotations: {prometheus.io/scrape: "true"}}
            spec:
              selector: {matchLabels: {a: b}}
              template:
                metadata: {labels: {a: b}}
                spec:
                  terminationGracePeriodSecond: 30
                  containers:
                  - name: c
                    image: i
                    readinesProbe: {httpGet: {path: /ready, port: 80}}
                    resources: {limits: {nvidia.com/gpu: 1}}
            ---
            apiVersion: monitoring.coreos.com/v1
            kind: ServiceMonitor
            metadata: {name: monitor}
            spec:
              selector: {matchLabels: {a: b}}
              endpoints: [{port: http, intervall: 15s}]
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: fine, labels: {app: x}}
            data: {anything.json: "{}"}
            """);

        Assert.Equal(1, v.ExitCode);
        Assert.Contains("FAIL apps/v1 Deployment typo: unknown field /spec/template/spec/terminationGracePeriodSecond, unknown field /spec/template/spec/containers/0/readinesProbe (kubectl's strict field validation refuses it)", v.Report, StringComparison.Ordinal);
        Assert.Contains("FAIL monitoring.coreos.com/v1 ServiceMonitor monitor: unknown field /spec/endpoints/0/intervall", v.Report, StringComparison.Ordinal);
        Assert.Contains("ok   v1 ConfigMap fine", v.Report, StringComparison.Ordinal);
        Assert.DoesNotContain("labels/", v.Report, StringComparison.Ordinal); // label, annotation, limit and data keys are map keys
        Assert.DoesNotContain("limits/", v.Report, StringComparison.Ordinal);
        Assert.Contains("1 valid, 2 invalid", v.Report, StringComparison.Ordinal);
    }

    /// <summary>validate.mjs (k8s mode) on the given YAML, through a temporary file.</summary>
    private static DeployTools.Validation ValidateYaml(string yaml)
    {
        string file = Path.Combine(Path.GetTempPath(), $"deploy-validate-input-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(file, yaml);
        try
        {
            return DeployTools.Validate("k8s", file);
        }
        finally
        {
            File.Delete(file);
        }
    }
}

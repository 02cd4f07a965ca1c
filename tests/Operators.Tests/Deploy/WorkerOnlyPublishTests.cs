using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using Inference.Gateway.Tests.Infrastructure;

namespace Inference.Operators.Tests.Deploy;

/// <summary>
/// The gateway image's publish: `dotnet publish src/Gateway -p:InferenceLocalWorker=false` has no libtorch, no
/// TorchSharp and no Worker assembly, serves through a worker daemon, and refuses an in-process model with a clear
/// message. Published into a private artifacts folder, so the checkout's own build outputs are untouched.
/// </summary>
[Collection(WorkerOnlyPublishCollection.Name)]
public sealed class WorkerOnlyPublishTests(WorkerOnlyPublishFixture publish)
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(2);

    [Fact]
    public void Publish_HasNoLibtorchTorchSharpOrWorkerAssembly()
    {
        string[] files = [.. Directory.EnumerateFiles(publish.Output, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(publish.Output, f))];
        Assert.Contains("Inference.Gateway.dll", files);
        Assert.Contains("Inference.Worker.Contracts.dll", files);
        Assert.DoesNotContain(files, f => f.Contains("torch", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain("Inference.Worker.dll", files);
        string deps = File.ReadAllText(Path.Combine(publish.Output, "Inference.Gateway.deps.json"));
        Assert.DoesNotContain("TorchSharp", deps, StringComparison.Ordinal);
        long bytes = files.Sum(f => new FileInfo(Path.Combine(publish.Output, f)).Length);
        Assert.True(bytes < 64L * 1024 * 1024, $"the worker-only gateway is {bytes / (1024.0 * 1024):0.0} MiB");
    }

    [Fact]
    public async Task PublishedGateway_ServesThroughAWorkerDaemon()
    {
        await using WorkerProcess worker = await WorkerProcess.StartAsync(Limit);
        int port = FreePort();
        using Process gateway = Start("--worker", worker.Address.ToString(), "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--grpc-port", "-1", "--usage-log", Path.Combine(publish.Root, "usage.jsonl"));
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
            var clock = Stopwatch.StartNew();
            while (true)
            {
                try
                {
                    using HttpResponseMessage ready = await http.GetAsync("/ready");
                    if (ready.StatusCode == HttpStatusCode.OK)
                    {
                        break;
                    }
                }
                catch (HttpRequestException) when (clock.Elapsed < Limit && !gateway.HasExited)
                {
                }

                Assert.False(gateway.HasExited, "the published gateway exited");
                Assert.True(clock.Elapsed < Limit, "the published gateway never became ready");
                await Task.Delay(200);
            }

            using HttpResponseMessage response = await http.PostAsJsonAsync("/v1/completions", new { model = "brown-llama-5m", prompt = "The", max_tokens = 4, ignore_eos = true });
            string body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, body);
            Assert.Contains("\"completion_tokens\":4", body, StringComparison.Ordinal);
        }
        finally
        {
            gateway.Kill(entireProcessTree: true);
            await gateway.WaitForExitAsync();
        }
    }

    [Fact]
    public async Task PublishedGateway_GivenAModel_RefusesNamingTheWorkerOnlyBuild()
    {
        using Process gateway = Start("--model", RepoFiles.BundledModel(), "--port", "0", "--grpc-port", "-1");
        string stderr = await gateway.StandardError.ReadToEndAsync().WaitAsync(Limit);
        await gateway.WaitForExitAsync().WaitAsync(Limit);
        Assert.NotEqual(0, gateway.ExitCode);
        Assert.Contains("built without the in-process worker", stderr, StringComparison.Ordinal);
        Assert.Contains("--worker", stderr, StringComparison.Ordinal);
    }

    private Process Start(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false, WorkingDirectory = publish.Root };
        info.ArgumentList.Add(Path.Combine(publish.Output, "Inference.Gateway.dll"));
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        return process;
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>One worker-only publish for the class (about a minute: it builds the gateway and its references afresh).</summary>
public sealed class WorkerOnlyPublishFixture : IDisposable
{
    public WorkerOnlyPublishFixture()
    {
        Root = Directory.CreateTempSubdirectory("gateway-publish-").FullName;
        Output = Path.Combine(Root, "out");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string arg in (string[])["publish", RepoFiles.InRepo("src/Gateway/Inference.Gateway.csproj"), "-c", "Release", "-p:InferenceLocalWorker=false",
            "--artifacts-path", Path.Combine(Root, "artifacts"), "-o", Output, "--nologo"])
        {
            info.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(info)!;
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(TimeSpan.FromMinutes(8)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet publish did not finish in 8 minutes:\n{output}");
        }

        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"dotnet publish failed ({process.ExitCode}):\n{output}");
        }
    }

    public string Root { get; }

    public string Output { get; }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

[CollectionDefinition(Name)]
public sealed class WorkerOnlyPublishCollection : ICollectionFixture<WorkerOnlyPublishFixture>
{
    public const string Name = "worker-only publish";
}

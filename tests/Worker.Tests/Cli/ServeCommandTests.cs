using System.Diagnostics;
using System.Runtime.InteropServices;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Inference.Worker.Tests.Demo;
using Proto = Inference.Worker.Grpc;

namespace Inference.Worker.Tests.Cli;

/// <summary>The `serve` daemon as a child process: the listening line, a request over h2c, SIGTERM drains and exits 0.</summary>
public sealed partial class ServeCommandTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [Fact]
    public async Task Serve_PortZeroThenSigterm_ListensServesAndExitsZero()
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { Path.Combine(AppContext.BaseDirectory, "Inference.Worker.dll"), "serve", "--port", "0", "--model", BundledModel.Directory(), "--kv-cache-memory", "16MiB", "--drain-timeout", "20" })
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start)!;
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        try
        {
            using var timeout = new CancellationTokenSource(Timeout);
            string? line = await process.StandardOutput.ReadLineAsync(timeout.Token);
            Assert.True(line is not null && line.StartsWith("listening on http://127.0.0.1:", StringComparison.Ordinal), $"stdout: {line}\nstderr: {(process.HasExited ? await stderr : string.Empty)}");
            var address = new Uri(line["listening on ".Length..]);
            Assert.NotEqual(0, address.Port);

            using GrpcChannel channel = GrpcChannel.ForAddress(address);
            var health = new Health.HealthClient(channel);
            var client = new Proto.Worker.WorkerClient(channel);
            var options = new CallOptions(deadline: DateTime.UtcNow + Timeout);
            HealthCheckResponse serving = await health.CheckAsync(new HealthCheckRequest(), options);
            Proto.InfoReply info = await client.InfoAsync(new Proto.InfoRequest(), options);

            Assert.Equal(0, Kill(process.Id, 15)); // SIGTERM
            await process.WaitForExitAsync(timeout.Token);

            Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, serving.Status);
            Assert.Equal(BundledModel.Name, info.Model);
            Assert.True(process.ExitCode == 0, await stderr);
            Assert.Contains("Drained", await stderr, StringComparison.Ordinal);
            Assert.Null(await process.StandardOutput.ReadLineAsync(timeout.Token));
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }
}

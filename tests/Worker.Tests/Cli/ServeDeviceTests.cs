using System.Diagnostics;
using Inference.TestSupport.Gpu;
using Inference.Worker.Tests.Demo;

namespace Inference.Worker.Tests.Cli;

/// <summary>`serve --device cuda:N` refuses a busy or missing GPU and exits 2, with NVML pointed at the fake by INFERENCE_NVML_LIBRARY.</summary>
public sealed class ServeDeviceTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Serve_BusyDevice_ExitsTwoNamingTheProcesses()
    {
        Dictionary<string, string> config = FakeNvml.TwoIdleH200s();
        config["1.procs"] = FakeNvml.Processes((4242, 3L << 30));
        using FakeNvml fake = FakeNvml.Build(config);

        (int code, string stderr) = await ServeAsync(fake, "cuda:1");

        Assert.True(code == 2, stderr);
        Assert.Contains($"error: --device cuda:1 (GPU 1 NVIDIA H200 ({FakeNvml.H200Uuid1})) is busy: 1 other compute process(es) run on it: pid 4242 (3.00 GiB).", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_NoSuchDevice_ExitsTwoListingTheGpus()
    {
        using FakeNvml fake = FakeNvml.Build(FakeNvml.TwoIdleH200s());

        (int code, string stderr) = await ServeAsync(fake, "cuda:7");

        Assert.True(code == 2, stderr);
        Assert.Contains("error: --device cuda:7: no such GPU; NVML sees 2 GPU(s): 0 NVIDIA H200", stderr, StringComparison.Ordinal);
    }

    private static async Task<(int Code, string Stderr)> ServeAsync(FakeNvml fake, string device)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["INFERENCE_NVML_LIBRARY"] = fake.LibraryPath;
        start.Environment.Remove("CUDA_VISIBLE_DEVICES");
        foreach (string arg in new[] { Path.Combine(AppContext.BaseDirectory, "Inference.Worker.dll"), "serve", "--port", "0", "--model", BundledModel.Directory(), "--device", device })
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start)!;
        try
        {
            using var timeout = new CancellationTokenSource(Timeout);
            Task<string> stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
            string stderr = await process.StandardError.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
            Assert.Empty(await stdout); // never got to "listening on"
            return (process.ExitCode, stderr);
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

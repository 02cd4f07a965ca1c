using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Inference.Gateway.Tests.Infrastructure;

/// <summary>redis-server as a child process on 127.0.0.1 without persistence; disposing kills it (SIGKILL, like a crash).</summary>
internal sealed class RedisServerProcess : RespServer
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(15);
    private readonly Process _process;

    private RedisServerProcess(Process process, int port)
        : base(port) => _process = process;

    public override RespServerKind Kind => RespServerKind.Redis;

    public static async Task<RespServer> StartAsync(string path, int port)
    {
        var start = new ProcessStartInfo(path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no" })
        {
            start.ArgumentList.Add(arg);
        }

        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var output = new StringBuilder();
        Process process = Process.Start(start) ?? throw new InvalidOperationException($"{path} did not start");
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                ready.TrySetException(new InvalidOperationException("redis-server exited:\n" + output));
                return;
            }

            lock (output)
            {
                output.AppendLine(e.Data);
            }

            if (e.Data.Contains("Ready to accept connections", StringComparison.Ordinal))
            {
                ready.TrySetResult();
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new RedisServerProcess(process, port);
        try
        {
            await ready.Task.WaitAsync(StartTimeout);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        return server;
    }

    public override async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().WaitAsync(StartTimeout);
        }

        _process.Dispose();
    }
}

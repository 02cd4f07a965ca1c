using System.Diagnostics;
using System.Text;

namespace Inference.Gateway.Tests.Infrastructure;

/// <summary>
/// A worker daemon as a child process (`dotnet Inference.Worker.dll serve --port 0 ...` over the bundled model),
/// started and ready once it printed "listening on http://HOST:PORT". Killed on dispose.
/// </summary>
internal sealed class WorkerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stderr = new();

    private WorkerProcess(Process process, Uri address)
    {
        _process = process;
        Address = address;
    }

    public Uri Address { get; }

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>What the daemon wrote to stderr so far (logs, load progress), for failure messages.</summary>
    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    public static async Task<WorkerProcess> StartAsync(TimeSpan timeout, params string[] extraArgs)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in (string[])[RepoFiles.WorkerDll(), "serve", "--port", "0", "--model", RepoFiles.BundledModel(), "--kv-cache-memory", "32MiB", .. extraArgs])
        {
            start.ArgumentList.Add(arg);
        }

        Process process = Process.Start(start)!;
        var stderr = new StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (stderr)
                {
                    stderr.AppendLine(e.Data);
                }
            }
        };
        process.BeginErrorReadLine();
        try
        {
            using var cts = new CancellationTokenSource(timeout);
            while (true)
            {
                string? line = await process.StandardOutput.ReadLineAsync(cts.Token);
                if (line is null)
                {
                    throw new InvalidOperationException($"the worker exited before listening: {Snapshot(stderr)}");
                }

                const string Prefix = "listening on ";
                if (line.StartsWith(Prefix, StringComparison.Ordinal))
                {
                    var worker = new WorkerProcess(process, new Uri(line[Prefix.Length..].Trim()));
                    lock (stderr)
                    {
                        worker._stderr.Append(stderr);
                    }

                    process.ErrorDataReceived += (_, e) =>
                    {
                        lock (worker._stderr)
                        {
                            worker._stderr.AppendLine(e.Data);
                        }
                    };
                    return worker;
                }
            }
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            throw;
        }
    }

    /// <summary>Kills the daemon at once (no drain), as a crash would.</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(cts.Token);
        _process.Dispose();
    }

    private static string Snapshot(StringBuilder stderr)
    {
        lock (stderr)
        {
            return stderr.ToString();
        }
    }
}

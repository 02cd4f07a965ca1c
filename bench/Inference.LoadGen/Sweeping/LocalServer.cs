using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Inference.LoadGen.Sweeping;

/// <summary>Our gateway started as a child process on free loopback ports with one engine setting, ready when /ready
/// answers 200; stopped with SIGTERM (its drain) and killed if it lingers.</summary>
public sealed class LocalServer : IAsyncDisposable
{
    private static readonly string[] Configurations = ["Release", "Debug"];
    private readonly Process _process;

    private LocalServer(Process process, Uri baseUrl, string logPath)
    {
        _process = process;
        BaseUrl = baseUrl;
        LogPath = logPath;
    }

    public Uri BaseUrl { get; }

    public string LogPath { get; }

    /// <summary>The gateway's built Release (else Debug) binary in the repository holding the bundled model.</summary>
    public static string? FindGatewayDll()
    {
        string? model = Inference.Worker.Cli.BundledModelLocator.Find();
        if (model is null)
        {
            return null;
        }

        string root = Path.GetFullPath(Path.Combine(model, "..", ".."));
        return Configurations
            .Select(c => Path.Combine(root, "src", "Gateway", "bin", c, "net10.0", "Inference.Gateway.dll"))
            .FirstOrDefault(File.Exists);
    }

    public static async Task<LocalServer> StartAsync(string gatewayDll, IEnumerable<string> arguments, string logPath, TimeSpan readyTimeout, CancellationToken cancellationToken)
    {
        int port = FreePort();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(gatewayDll);
        foreach (string a in new[] { "--host", "127.0.0.1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--grpc-port", "-1" }.Concat(arguments))
        {
            start.ArgumentList.Add(a);
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(logPath))!);
        var log = new StreamWriter(logPath, append: false) { AutoFlush = true };
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => Write(log, e.Data);
        process.ErrorDataReceived += (_, e) => Write(log, e.Data);
        process.Exited += (_, _) => { lock (log) { log.Dispose(); } };
        if (!process.Start())
        {
            throw new InvalidOperationException($"could not start dotnet {gatewayDll}");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new LocalServer(process, new Uri($"http://127.0.0.1:{port}/"), logPath);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < readyTimeout)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"the gateway exited with code {process.ExitCode} before it was ready; see {logPath}");
            }

            try
            {
                using HttpResponseMessage ready = await http.GetAsync(new Uri(server.BaseUrl, "ready"), cancellationToken);
                if (ready.StatusCode == HttpStatusCode.OK)
                {
                    return server;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
            }

            await Task.Delay(250, cancellationToken);
        }

        await server.DisposeAsync();
        throw new InvalidOperationException($"the gateway was not ready within {readyTimeout.TotalSeconds:0} s; see {logPath}");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            // SIGTERM: the gateway drains (nothing is in flight between runs) and exits.
            using (Process? kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                kill?.WaitForExit();
            }

            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await _process.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }

        _process.Dispose();
    }

    private static void Write(StreamWriter log, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (log)
        {
            if (log.BaseStream is not null)
            {
                log.WriteLine(line);
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

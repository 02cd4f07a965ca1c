using Inference.LoadGen.Reporting;
using Inference.LoadGen.Serving;
using Inference.LoadTests.Scenarios;

namespace Inference.LoadTests;

/// <summary>Parses the common options, runs one scenario and prints its verdict.</summary>
public static class LoadTestCommand
{
    public const string Usage = "Inference.LoadTests steady|spike|soak|noisy-tenant|quota-abuse|disconnect-storm|worker-kill [--base-url URL ...] [--model ID] [--api-key KEY] [--tokenizer DIR] [options: loadtests/README.md]";

    private static readonly string[] Common = ["--base-url", "--model", "--api-key", "--tokenizer"];

    private static readonly string[] ScenarioOptions =
    [
        "--rate", "--duration", "--max-p95-e2e-ms", "--max-p95-ttft-ms", "--input-len", "--output-len", "--factor", "--baseline",
        "--spike", "--recovery", "--after", "--streams", "--warmup", "--sample-seconds", "--max-slope-mb-per-min",
        "--noisy-key", "--noisy-rpm", "--max-degradation", "--slack-ms", "--limit-rpm", "--concurrency", "--settle-seconds",
        "--kill-command", "--kill-after", "--max-error-seconds",
    ];

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        if (args.Length == 0 || args[0] is "--help" or "-h")
        {
            output.WriteLine("usage: " + Usage);
            return args.Length == 0 ? 2 : 0;
        }

        try
        {
            var parsed = new CommandArgs(args[1..], [.. Common, .. ScenarioOptions], []);
            ScenarioResult result = await RunAsync(args[0], parsed, log, cancellationToken);
            output.Write(result.ToString());
            return result.Passed ? 0 : 1;
        }
        catch (ArgumentException ex)
        {
            log.WriteLine($"error: {ex.Message}\nusage: {Usage}");
            return 2;
        }
        catch (Exception ex) when (ex is HttpRequestException or InvalidOperationException or IOException)
        {
            log.WriteLine($"error: {ex.Message}");
            return 1;
        }
    }

    public static async Task<ScenarioResult> RunAsync(string scenario, CommandArgs args, TextWriter log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var urls = args.All("--base-url").Select(u => new Uri(u.EndsWith('/') ? u : u + "/")).ToList();
        if (urls.Count == 0)
        {
            urls.Add(new Uri("http://127.0.0.1:8000/"));
        }

        string tokenizer = args.String("--tokenizer") ?? Inference.Worker.Cli.BundledModelLocator.Find()
            ?? throw new ArgumentException("--tokenizer MODEL_DIR is needed (no bundled model found)");
        string model = args.String("--model") ?? Path.GetFileName(Path.GetFullPath(tokenizer).TrimEnd('/'));
        using var stack = new StackClient(urls, model, args.String("--api-key") ?? Environment.GetEnvironmentVariable("OPENAI_API_KEY"), tokenizer);
        return scenario switch
        {
            "steady" => await Steady.RunAsync(stack, args, log, cancellationToken),
            "spike" => await Spike.RunAsync(stack, args, log, cancellationToken),
            "soak" => await Soak.RunAsync(stack, args, log, cancellationToken),
            "noisy-tenant" => await NoisyTenant.RunAsync(stack, args, log, cancellationToken),
            "quota-abuse" => await QuotaAbuse.RunAsync(stack, args, log, cancellationToken),
            "disconnect-storm" => await DisconnectStorm.RunAsync(stack, args, log, cancellationToken),
            "worker-kill" => await WorkerKill.RunAsync(stack, args, log, cancellationToken),
            _ => throw new ArgumentException($"unknown scenario {scenario}"),
        };
    }
}

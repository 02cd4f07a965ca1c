using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Inference.LoadGen.Reporting;
using Inference.LoadGen.Serving;

namespace Inference.LoadGen.Sweeping;

/// <summary>
/// bench sweep: serve at rising request rates for every combination of engine settings (our gateway restarted per
/// setting), the highest rate of each that meets the SLO, and the recommended setting. Every finished run is appended
/// to results.jsonl in --out at once, so an interrupted sweep started again with the same options continues where it
/// stopped.
/// </summary>
public static class SweepCommand
{
    public const string Usage = """
        sweep --out DIR --rates 1,2,4,8 [--setting NAME=V1,V2 ...] [--slo ttft:MS tpot:MS e2el:MS] [--slo-percentile 95]
              [--min-throughput-ratio 0.9] [--gateway DLL] [--model DIR] [--server-arg ARG ...] [--base-url URL] [--restart]
              and serve's dataset/backend options (--backend, --dataset, --num-prompts, --input-len, --output-len, ...)
          setting names: max-num-seqs, max-num-batched-tokens, block-size, long-prefill-token-threshold, kv-cache-memory
        """;

    /// <summary>Engine settings a sweep may vary: each is the gateway's option of the same name.</summary>
    public static readonly IReadOnlyList<string> SettingNames =
        ["max-num-seqs", "max-num-batched-tokens", "block-size", "long-prefill-token-threshold", "kv-cache-memory"];

    private static readonly string[] OwnValueOptions =
        ["--out", "--rates", "--setting", "--slo", "--slo-percentile", "--min-throughput-ratio", "--gateway", "--model", "--server-arg"];

    /// <summary>serve options a sweep forwards to each run (the rate and URL are its own).</summary>
    private static readonly string[] ForwardedOptions =
    [
        "--backend", "--api-key", "--tokenizer", "--dataset", "--dataset-path", "--num-prompts", "--input-len", "--output-len",
        "--random-range-ratio", "--prefix-len", "--num-prefixes", "--sharegpt-output-len", "--burstiness", "--max-concurrency",
        "--seed", "--temperature", "--request-timeout",
    ];

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken = default)
    {
        if (args.Contains("--help"))
        {
            Console.WriteLine("usage: " + Usage);
            return 0;
        }

        try
        {
            var parsed = new CommandArgs(args, [.. OwnValueOptions, .. ForwardedOptions, "--base-url"], ["--restart", "--no-ignore-eos", "--no-logprobs-count", "--no-keep-alive"], ["--slo", "--server-arg"]);
            SweepResult result = await RunAsync(parsed, Console.Error, cancellationToken);
            Console.Write(result.ToConsole());
            Console.Error.WriteLine($"wrote {Path.Combine(result.Directory, "sweep.json")}, sweep.md and latency_vs_throughput.svg");
            return 0;
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine($"error: {ex.Message}\nusage: {Usage}");
            return 2;
        }
        catch (Exception ex) when (ex is ServeFailedException or InvalidOperationException or IOException)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return 1;
        }
    }

    public static async Task<SweepResult> RunAsync(CommandArgs args, TextWriter log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(log);
        string dir = Path.GetFullPath(args.String("--out") ?? throw new ArgumentException("--out DIR is required (results and resume state go there)"));
        IReadOnlyList<double> rates = CommandArgs.ParseDoubles("--rates", args.String("--rates") ?? throw new ArgumentException("--rates R1,R2,... is required"));
        if (rates.Count == 0 || rates.Any(r => r <= 0))
        {
            throw new ArgumentException("--rates: give positive request rates, e.g. 1,2,4,8");
        }

        rates = rates.Order().ToList();
        List<Dictionary<string, string>> settings = Settings(args.All("--setting"));
        string? fixedUrl = args.String("--base-url");
        if (fixedUrl is not null && settings.Any(s => s.Count > 0))
        {
            throw new ArgumentException("--setting needs a local server the sweep restarts; it cannot change a server at --base-url");
        }

        Slo slo = Slo.Parse(args.All("--slo"));
        if (slo.IsEmpty)
        {
            throw new ArgumentException("--slo is required, e.g. --slo ttft:2000 e2el:5000 (milliseconds, at --slo-percentile)");
        }

        double percentile = args.Double("--slo-percentile", 95);
        if (percentile is <= 0 or >= 100)
        {
            throw new ArgumentException($"--slo-percentile {percentile}: must be in (0, 100)");
        }

        double minRatio = args.Double("--min-throughput-ratio", 0.9);
        string? gatewayDll = null;
        if (fixedUrl is null)
        {
            gatewayDll = args.String("--gateway") ?? LocalServer.FindGatewayDll()
                ?? throw new ArgumentException("no built gateway found: run `dotnet build -c Release src/Gateway` or give --gateway DLL");
        }

        Directory.CreateDirectory(dir);
        SweepState state = SweepState.Open(dir, Fingerprint(args), args.Flag("--restart"));
        if (state.Points.Count > 0)
        {
            log.WriteLine($"sweep: resuming in {dir} with {state.Points.Count} finished runs");
        }

        for (int si = 0; si < settings.Count; si++)
        {
            Dictionary<string, string> setting = settings[si];
            string label = SweepResult.Label(setting);
            List<double> todo = rates.Where(r => !state.Has(setting, r)).ToList();
            if (state.FailedBelow(setting, todo.FirstOrDefault(double.PositiveInfinity)) || todo.Count == 0)
            {
                log.WriteLine($"sweep: setting {si + 1}/{settings.Count} ({label}): done earlier");
                continue;
            }

            LocalServer? server = null;
            try
            {
                Uri baseUrl;
                if (fixedUrl is null)
                {
                    log.WriteLine($"sweep: setting {si + 1}/{settings.Count} ({label}): starting the gateway");
                    var serverArgs = new List<string> { "--no-response-cache", "--data-dir", Path.Combine(dir, "server-data") };
                    if (args.String("--model") is { } model)
                    {
                        serverArgs.AddRange(["--model", model]);
                    }

                    foreach ((string name, string value) in setting)
                    {
                        serverArgs.AddRange(["--" + name, value]);
                    }

                    serverArgs.AddRange(args.All("--server-arg"));
                    server = await LocalServer.StartAsync(gatewayDll!, serverArgs, Path.Combine(dir, "logs", $"server-{si + 1}.log"), TimeSpan.FromMinutes(4), cancellationToken);
                    baseUrl = server.BaseUrl;
                }
                else
                {
                    baseUrl = new Uri(fixedUrl);
                }

                foreach (double rate in todo)
                {
                    log.WriteLine($"sweep: setting {si + 1}/{settings.Count} ({label}) at {rate.ToString(CultureInfo.InvariantCulture)} req/s");
                    var serveArgs = new List<string> { "--base-url", baseUrl.ToString(), "--request-rate", rate.ToString(CultureInfo.InvariantCulture), "--percentiles", percentile.ToString(CultureInfo.InvariantCulture), "--label", $"{label} @ {rate.ToString(CultureInfo.InvariantCulture)} req/s" };
                    foreach (string option in ForwardedOptions)
                    {
                        if (args.String(option) is { } value)
                        {
                            serveArgs.AddRange([option, value]);
                        }
                    }

                    foreach (string flag in (ReadOnlySpan<string>)["--no-ignore-eos", "--no-logprobs-count", "--no-keep-alive"])
                    {
                        if (args.Flag(flag))
                        {
                            serveArgs.Add(flag);
                        }
                    }

                    serveArgs.Add("--goodput");
                    serveArgs.AddRange(slo.ToString().Split(' '));
                    ServeReport report = await ServeCommand.RunAsync(
                        new CommandArgs(serveArgs, ServeCommand.ValueOptions, ServeCommand.FlagOptions, ServeCommand.MultiValueOptions), log, cancellationToken);
                    SweepPoint point = Evaluate(setting, rate, report.Metrics, slo, percentile, minRatio);
                    state.Append(point);
                    log.WriteLine($"sweep:   {point.RequestThroughput:0.00} req/s done, p{percentile} TTFT {point.TtftMs:0} ms, E2E {point.E2eMs:0} ms: {(point.Meets ? "meets the SLO" : "misses: " + point.Reason)}");
                    if (!point.Meets)
                    {
                        break; // higher rates only queue more
                    }
                }
            }
            finally
            {
                if (server is not null)
                {
                    await server.DisposeAsync();
                }
            }
        }

        var result = new SweepResult(dir, settings, rates, state.Points, slo, percentile, minRatio);
        result.Write();
        return result;
    }

    /// <summary>A run meets the SLO when nothing failed, the server kept up with the offered rate (completed requests
    /// per second at least <paramref name="minRatio"/> of it: otherwise its queue was growing) and the latencies at the
    /// percentile are within the limits.</summary>
    public static SweepPoint Evaluate(IReadOnlyDictionary<string, string> setting, double rate, ServeMetrics m, Slo slo, double percentile, double minRatio)
    {
        ArgumentNullException.ThrowIfNull(m);
        ArgumentNullException.ThrowIfNull(slo);
        var reasons = new List<string>();
        double ttft = m.Ttft.P(percentile), tpot = m.Tpot.P(percentile), e2e = m.E2e.P(percentile);
        string p = percentile.ToString(CultureInfo.InvariantCulture);
        if (m.Failed > 0)
        {
            reasons.Add($"{m.Failed} failed requests");
        }

        if (m.RequestThroughput < rate * minRatio)
        {
            reasons.Add($"throughput {m.RequestThroughput:0.00} req/s < {minRatio:0.##} x offered {rate.ToString(CultureInfo.InvariantCulture)}");
        }

        if (slo.TtftMs is { } t && ttft > t)
        {
            reasons.Add($"p{p} TTFT {ttft:0} ms > {t} ms");
        }

        if (slo.TpotMs is { } tp && tpot > tp)
        {
            reasons.Add($"p{p} TPOT {tpot:0.0} ms > {tp} ms");
        }

        if (slo.E2eMs is { } e && e2e > e)
        {
            reasons.Add($"p{p} E2E {e2e:0} ms > {e} ms");
        }

        return new SweepPoint
        {
            Setting = setting,
            Rate = rate,
            Completed = m.Completed,
            Failed = m.Failed,
            RequestThroughput = m.RequestThroughput,
            OutputThroughput = m.OutputThroughput,
            Goodput = m.RequestGoodput,
            TtftMs = ttft,
            TpotMs = tpot,
            E2eMs = e2e,
            MeanInputTokens = m.Completed == 0 ? 0 : m.TotalInputTokens / (double)m.Completed,
            MeanOutputTokens = m.Completed == 0 ? 0 : m.TotalOutputTokens / (double)m.Completed,
            Meets = reasons.Count == 0,
            Reason = string.Join("; ", reasons),
        };
    }

    /// <summary>The cartesian product of --setting NAME=V1,V2 options; one empty setting when none is given.</summary>
    internal static List<Dictionary<string, string>> Settings(IReadOnlyList<string> options)
    {
        var product = new List<Dictionary<string, string>> { new(StringComparer.Ordinal) };
        foreach (string option in options)
        {
            int eq = option.IndexOf('=', StringComparison.Ordinal);
            string name = eq > 0 ? option[..eq] : option;
            if (eq <= 0 || !SettingNames.Contains(name))
            {
                throw new ArgumentException($"--setting {option}: expected NAME=V1,V2 with NAME one of {string.Join(", ", SettingNames)}");
            }

            string[] values = option[(eq + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (values.Length == 0)
            {
                throw new ArgumentException($"--setting {option}: no values");
            }

            product = product.SelectMany(p => values.Select(v => new Dictionary<string, string>(p, StringComparer.Ordinal) { [name] = v })).ToList();
        }

        return product;
    }

    /// <summary>The options that decide what a run measures; a resumed sweep must have the same.</summary>
    private static string Fingerprint(CommandArgs args)
    {
        var json = new JsonObject();
        foreach (string option in OwnValueOptions.Concat(ForwardedOptions).Append("--base-url"))
        {
            if (option is "--out" or "--rates" or "--setting") // points are keyed by setting and rate: more may be added
            {
                continue;
            }

            if (args.All(option) is { Count: > 0 } values)
            {
                json[option] = string.Join(' ', values);
            }
        }

        json["--no-ignore-eos"] = args.Flag("--no-ignore-eos");
        return json.ToJsonString();
    }
}

using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Grpc.Net.Client;
using Inference.Gateway.Grpc;
using Inference.LoadGen.Reporting;
using Inference.Worker.Tokenization;

namespace Inference.LoadGen.Serving;

/// <summary>
/// bench serve: one benchmark run against any OpenAI-compatible endpoint or our gRPC API, with vllm bench serve's
/// options and definitions. Exit 0 on success; 1 when a request of the initial test fails or --self-check is given
/// and fails; 2 for bad usage.
/// </summary>
public static class ServeCommand
{
    public const string Usage = """
        serve [--backend openai-completions|openai-chat|grpc] [--base-url http://127.0.0.1:8000] [--model ID]
              [--api-key KEY] [--tokenizer MODEL_DIR] [--dataset random|shared-prefix|sharegpt] [--dataset-path FILE]
              [--num-prompts 200] [--input-len 128] [--output-len 64] [--random-range-ratio 0]
              [--prefix-len 256] [--num-prefixes 4] [--sharegpt-output-len N]
              [--request-rate inf] [--burstiness 1] [--max-concurrency N] [--seed 0]
              [--goodput ttft:MS tpot:MS e2el:MS] [--percentiles 90,99] [--temperature 0] [--no-ignore-eos]
              [--no-logprobs-count] [--no-keep-alive] [--extra-body JSON] [--request-timeout 600] [--label TEXT] [--out DIR] [--no-warmup] [--self-check]
        """;

    internal static readonly string[] ValueOptions =
    [
        "--backend", "--base-url", "--model", "--api-key", "--tokenizer", "--dataset", "--dataset-path", "--num-prompts",
        "--input-len", "--random-input-len", "--output-len", "--random-output-len", "--random-range-ratio", "--prefix-len",
        "--num-prefixes", "--sharegpt-output-len", "--request-rate", "--burstiness", "--max-concurrency", "--seed",
        "--goodput", "--percentiles", "--temperature", "--extra-body", "--request-timeout", "--label", "--out",
    ];

    internal static readonly string[] MultiValueOptions = ["--goodput"];

    internal static readonly string[] FlagOptions = ["--no-ignore-eos", "--no-logprobs-count", "--no-keep-alive", "--no-warmup", "--self-check"];

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken = default)
    {
        if (args.Contains("--help") || args.Contains("-h"))
        {
            Console.WriteLine("usage: " + Usage);
            return 0;
        }

        ServeReport report;
        CommandArgs parsed;
        try
        {
            parsed = new CommandArgs(args, ValueOptions, FlagOptions, MultiValueOptions);
            report = await RunAsync(parsed, Console.Error, cancellationToken);
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine($"error: {ex.Message}\nusage: {Usage}");
            return 2;
        }
        catch (ServeFailedException ex)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return 1;
        }

        Console.Write(report.ToConsole());
        if (parsed.String("--out") is { } dir)
        {
            report.Write(dir);
            Console.Error.WriteLine($"wrote {Path.Combine(dir, "result.json")}, {Path.Combine(dir, "report.md")} and its charts");
        }

        return parsed.Flag("--self-check") && report.SelfCheckPassed != true ? 1 : 0;
    }

    /// <summary>Runs one benchmark from parsed options (also the sweep's building block).</summary>
    public static async Task<ServeReport> RunAsync(CommandArgs args, TextWriter log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(log);
        string backendName = args.String("--backend") ?? "openai-completions";
        var baseUrl = new Uri(args.String("--base-url") ?? (backendName == "grpc" ? "http://127.0.0.1:8001" : "http://127.0.0.1:8000"), UriKind.Absolute);
        if (!baseUrl.AbsolutePath.EndsWith('/'))
        {
            baseUrl = new Uri(baseUrl + "/");
        }

        string? apiKey = args.String("--api-key") ?? Environment.GetEnvironmentVariable("OPENAI_API_KEY");
        string model = args.String("--model") ?? await FirstModelAsync(backendName, baseUrl, apiKey, cancellationToken);
        string tokenizerDir = args.String("--tokenizer") ?? Inference.Worker.Cli.BundledModelLocator.Find()
            ?? throw new ArgumentException("--tokenizer MODEL_DIR is needed (no bundled model found above the current directory)");
        ModelTokenizer tokenizer;
        try
        {
            tokenizer = ModelTokenizer.Load(tokenizerDir);
        }
        catch (Exception ex) when (ex is not OperationCanceledException) // a bad folder is a usage error naming it
        {
            throw new ArgumentException($"--tokenizer {tokenizerDir}: {ex.Message}", ex);
        }

        var dataset = new DatasetOptions
        {
            Name = args.String("--dataset") ?? "random",
            NumPrompts = args.Int("--num-prompts", 200),
            InputLength = args.IntOrNull("--input-len") ?? args.Int("--random-input-len", 128),
            OutputLength = args.IntOrNull("--output-len") ?? args.Int("--random-output-len", 64),
            RangeRatio = args.Double("--random-range-ratio", 0),
            PrefixLength = args.Int("--prefix-len", 256),
            NumPrefixes = args.Int("--num-prefixes", 4),
            Path = args.String("--dataset-path"),
            ShareGptOutputLength = args.IntOrNull("--sharegpt-output-len"),
            Seed = args.Int("--seed", 0),
        };
        var shape = new LoadShape
        {
            RequestRate = args.Double("--request-rate", double.PositiveInfinity),
            Burstiness = args.Double("--burstiness", 1),
            MaxConcurrency = args.IntOrNull("--max-concurrency"),
            Seed = dataset.Seed,
        };
        shape.Schedule(0); // validates the shape before any request
        var backendOptions = new BackendOptions
        {
            Backend = backendName,
            BaseUrl = baseUrl,
            Model = model,
            ApiKey = apiKey,
            Temperature = args.Double("--temperature", 0),
            IgnoreEos = !args.Flag("--no-ignore-eos"),
            ExtraBody = args.String("--extra-body"),
            RequestTimeout = TimeSpan.FromSeconds(args.Double("--request-timeout", 600)),
            CountTokensByLogprobs = !args.Flag("--no-logprobs-count"),
            KeepAlive = !args.Flag("--no-keep-alive"),
        };
        Slo slo = Slo.Parse(args.All("--goodput"));
        IReadOnlyList<double> percentiles = CommandArgs.ParseDoubles("--percentiles", args.String("--percentiles") ?? "90,99");
        foreach (double p in percentiles)
        {
            if (p is <= 0 or >= 100)
            {
                throw new ArgumentException($"--percentiles {p.ToString(CultureInfo.InvariantCulture)}: each must be in (0, 100)");
            }
        }

        IReadOnlyList<BenchRequest> requests = Datasets.Build(dataset, tokenizer);
        using IServingBackend backend = backendOptions.Create();
        if (!args.Flag("--no-warmup"))
        {
            // One request first, as vLLM does: a wrong URL, model or key fails here with the server's own words
            // instead of as a table of errors.
            RequestOutcome test = await backend.SendAsync(requests[0] with { MaxTokens = Math.Min(requests[0].MaxTokens, 8) }, cancellationToken);
            if (!test.Success)
            {
                throw new ServeFailedException($"the initial test request to {baseUrl} failed ({test.ErrorKind}): {test.ErrorMessage}");
            }
        }

        string label = args.String("--label") ?? backend.Name;
        ServeRun run;
        using (var progress = new ProgressBar($"serve {label}", requests.Count, log == Console.Error ? null : log, log == Console.Error ? null : false))
        {
            run = await ServeRunner.RunAsync(backend, requests, shape, progress, cancellationToken);
        }

        ServeMetrics metrics = ServeMetrics.Compute(run.Outcomes, run.DurationSeconds, slo, percentiles);
        var settings = new List<(string, string)>
        {
            ("Label", label),
            ("Backend", backend.Name),
            ("Base URL", baseUrl.ToString()),
            ("Model", model),
            ("Tokenizer", tokenizerDir),
            ("Dataset", DatasetLabel(dataset)),
            ("Num prompts", requests.Count.ToString(CultureInfo.InvariantCulture)),
            ("Request rate", double.IsPositiveInfinity(shape.RequestRate) ? "inf" : shape.RequestRate.ToString("0.###", CultureInfo.InvariantCulture)),
            ("Burstiness", shape.Burstiness.ToString("0.###", CultureInfo.InvariantCulture)),
            ("Max concurrency", shape.MaxConcurrency?.ToString(CultureInfo.InvariantCulture) ?? "unbounded"),
            ("Temperature", backendOptions.Temperature.ToString(CultureInfo.InvariantCulture)),
            ("Ignore EOS", backendOptions.IgnoreEos ? "true" : "false"),
            ("HTTP keep-alive", backendOptions.KeepAlive ? "on" : "off (a connection per request)"),
            ("Tokens counted by", backendOptions.CountTokensByLogprobs || backend.Name == "grpc" ? "token entries on the wire" : "chunks with text"),
        };
        return new ServeReport(settings, run, metrics, slo, percentiles);
    }

    private static string DatasetLabel(DatasetOptions d) => d.Name switch
    {
        "random" => $"random (input {d.InputLength}, output {d.OutputLength}, range ratio {d.RangeRatio.ToString(CultureInfo.InvariantCulture)})",
        "shared-prefix" => $"shared-prefix ({d.NumPrefixes} prefixes of {d.PrefixLength} tokens, then input {d.InputLength}, output {d.OutputLength})",
        _ => $"sharegpt ({d.Path}{(d.ShareGptOutputLength is { } o ? $", output {o}" : string.Empty)})",
    };

    private static async Task<string> FirstModelAsync(string backend, Uri baseUrl, string? apiKey, CancellationToken cancellationToken)
    {
        try
        {
            if (backend == "grpc")
            {
                using GrpcChannel channel = GrpcChannel.ForAddress(baseUrl);
                var client = new InferenceService.InferenceServiceClient(channel);
                var headers = new Grpc.Core.Metadata();
                if (apiKey is not null)
                {
                    headers.Add("authorization", "Bearer " + apiKey);
                }

                ListModelsResponse models = await client.ListModelsAsync(new ListModelsRequest(), headers, DateTime.UtcNow.AddSeconds(10), cancellationToken);
                return models.Models.Count > 0 ? models.Models[0].Id : throw new ServeFailedException($"{baseUrl} lists no models; give --model");
            }

            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(baseUrl, "v1/models"));
            if (apiKey is not null)
            {
                request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", apiKey);
            }

            using HttpResponseMessage response = await http.SendAsync(request, cancellationToken);
            response.EnsureSuccessStatusCode();
            using JsonDocument doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
            foreach (JsonElement m in doc.RootElement.GetProperty("data").EnumerateArray())
            {
                return m.GetProperty("id").GetString() ?? string.Empty;
            }

            throw new ServeFailedException($"{baseUrl}v1/models lists no models; give --model");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or Grpc.Core.RpcException or JsonException or KeyNotFoundException)
        {
            throw new ServeFailedException($"could not list the models of {baseUrl} ({ex.Message}); is the server up? (or give --model)", ex);
        }
    }
}

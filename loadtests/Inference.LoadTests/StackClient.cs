using System.Globalization;
using System.Net.Http.Headers;
using Inference.LoadGen.Serving;
using Inference.Worker.Tokenization;

namespace Inference.LoadTests;

/// <summary>What every scenario needs of the stack under test: its URL(s), the model, a key, prompts, and its
/// Prometheus metrics.</summary>
public sealed class StackClient : IDisposable
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly ModelTokenizer _tokenizer;
    private int _seed;

    public StackClient(IReadOnlyList<Uri> baseUrls, string model, string? apiKey, string tokenizerDir)
    {
        BaseUrls = baseUrls;
        Model = model;
        ApiKey = apiKey;
        _tokenizer = ModelTokenizer.Load(tokenizerDir);
    }

    public IReadOnlyList<Uri> BaseUrls { get; }

    public Uri BaseUrl => BaseUrls[0];

    public string Model { get; }

    public string? ApiKey { get; }

    /// <summary>A streaming completions backend for one of the stack's URLs (and optionally another key).</summary>
    public IServingBackend Backend(int replica = 0, string? apiKey = null, TimeSpan? timeout = null) => new BackendOptions
    {
        Backend = "openai-completions",
        BaseUrl = BaseUrls[replica],
        Model = Model,
        ApiKey = apiKey ?? ApiKey,
        RequestTimeout = timeout ?? TimeSpan.FromMinutes(2),
    }.Create();

    /// <summary>Random prompts of <paramref name="inputTokens"/> tokens asking for <paramref name="outputTokens"/>.</summary>
    public IReadOnlyList<BenchRequest> Prompts(int count, int inputTokens, int outputTokens) =>
        Datasets.Build(new DatasetOptions { NumPrompts = count, InputLength = inputTokens, OutputLength = outputTokens, Seed = Interlocked.Increment(ref _seed) }, _tokenizer);

    /// <summary>Sends a short request until one is served (workers still registering answer 404/503 at first), so a
    /// scenario measures a serving stack; throws when none is served in time.</summary>
    public static async Task WaitServingAsync(IServingBackend backend, BenchRequest probe, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(probe);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        RequestOutcome last;
        do
        {
            last = await backend.SendAsync(probe with { MaxTokens = 1 }, cancellationToken);
            if (last.Success)
            {
                return;
            }

            await Task.Delay(250, cancellationToken);
        }
        while (clock.Elapsed < timeout);
        throw new InvalidOperationException($"the stack served no request within {timeout.TotalSeconds:0} s: {last.ErrorKind} {last.ErrorMessage}");
    }

    /// <summary>Requests the gateway accounted for: admitted ones (inference_request_total, whatever their end) and
    /// those refused before admission (inference_request_rejections_total).</summary>
    public async Task<(double Admitted, double Refused)> AccountedAsync(CancellationToken cancellationToken) =>
        (await MetricAsync("inference_request_total", cancellationToken: cancellationToken),
         await MetricAsync("inference_request_rejections_total", cancellationToken: cancellationToken));

    /// <summary>Sum of the samples of one metric (all label sets) at /metrics of a replica.</summary>
    public async Task<double> MetricAsync(string name, int replica = 0, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(BaseUrls[replica], "metrics"));
        if (ApiKey is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey);
        }

        using HttpResponseMessage response = await _http.SendAsync(request, cancellationToken);
        response.EnsureSuccessStatusCode();
        string text = await response.Content.ReadAsStringAsync(cancellationToken);
        double sum = 0;
        foreach (string line in text.Split('\n'))
        {
            if (line.StartsWith(name, StringComparison.Ordinal) && line.Length > name.Length && (line[name.Length] == ' ' || line[name.Length] == '{'))
            {
                int space = line.LastIndexOf(' ');
                if (double.TryParse(line.AsSpan(space + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
                {
                    sum += v;
                }
            }
        }

        return sum;
    }

    public void Dispose() => _http.Dispose();
}

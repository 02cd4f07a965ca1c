using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Xml.Linq;
using Inference.LoadGen.Reporting;
using Inference.LoadGen.Serving;

namespace Inference.Operators.Tests.Serving;

/// <summary>bench serve end to end against the in-process gateway over the bundled model, through each backend.</summary>
[Collection(LiveGatewayCollection.Name)]
public sealed class ServeCommandTests(LiveGateway gateway) : IDisposable
{
    private const int Prompts = 12;
    private const int OutputLength = 16;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "serve-tests-" + Guid.NewGuid().ToString("N"));
    private readonly StringWriter _log = new(CultureInfo.InvariantCulture);

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private Uri Address(string backend) => backend == "grpc" ? gateway.GrpcAddress : gateway.HttpAddress;

    private Task<ServeReport> ServeAsync(params string[] args) =>
        ServeCommand.RunAsync(
            new CommandArgs([.. args, "--tokenizer", LiveGateway.Model], ServeCommand.ValueOptions, ServeCommand.FlagOptions, ServeCommand.MultiValueOptions),
            _log,
            CancellationToken.None).WaitAsync(LiveGateway.Limit);

    /// <summary>A loopback port nothing listens on (bound, then released).</summary>
    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Theory]
    [InlineData("openai-completions")]
    [InlineData("openai-chat")]
    [InlineData("grpc")]
    public async Task RunAsync_Backend_EveryRequestCompletesWithTheAskedTokens(string backend)
    {
        ServeReport report = await ServeAsync(
            "--backend", backend, "--base-url", Address(backend).ToString(), "--num-prompts", Prompts.ToString(CultureInfo.InvariantCulture),
            "--input-len", "32", "--output-len", OutputLength.ToString(CultureInfo.InvariantCulture), "--max-concurrency", "4");

        ServeMetrics m = report.Metrics;
        Assert.True(m.Failed == 0, string.Join(" | ", report.Run.Outcomes.Where(o => !o.Success).Select(o => $"{o.ErrorKind}: {o.ErrorMessage}")));
        Assert.Equal(Prompts, m.Completed);
        Assert.Equal(Prompts * OutputLength, m.UsageOutputTokens); // ignore_eos: every answer runs to max_tokens
        Assert.Equal(Prompts * OutputLength, m.TotalOutputTokens);
        Assert.True(report.SelfCheckPassed == true, $"self-check: streamed {m.StreamedOutputTokens} vs usage {m.UsageOutputTokens}");
        Assert.InRange(m.PeakConcurrency, 1, 4);
        Assert.True(m.OutputThroughput > 0 && m.RequestThroughput > 0);
        Assert.Equal(Prompts, m.Tpot.Count);
        Assert.Equal(Prompts * (OutputLength - 1), m.Itl.Count);
        Assert.All(report.Run.Outcomes, o =>
        {
            Assert.True(o.Success);
            Assert.Equal(OutputLength, o.UsageCompletionTokens);
            Assert.Equal(OutputLength, o.StreamedTokens); // one token entry per generated token on the wire
            Assert.True(o.Ttft > 0 && o.Ttft < o.Latency, $"TTFT {o.Ttft} s, E2E {o.Latency} s");
            Assert.Equal(o.StreamedTokens - 1, o.Itl.Count); // one piece per token: a gap before each after the first
            Assert.True(o.UsagePromptTokens > 0);
        });
        Assert.Empty(gateway.Errors);
    }

    [Theory]
    [InlineData("openai-completions")]
    [InlineData("grpc")]
    public async Task Write_Report_ResultJsonMarkdownAndCharts(string backend)
    {
        ServeReport report = await ServeAsync(
            "--backend", backend, "--base-url", Address(backend).ToString(), "--num-prompts", "6", "--input-len", "16", "--output-len", "8",
            "--request-rate", "50", "--goodput", "ttft:60000", "e2el:60000");

        report.Write(_dir);

        using (JsonDocument result = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(_dir, "result.json")).WaitAsync(LiveGateway.Limit)))
        {
            JsonElement root = result.RootElement;
            Assert.Equal(6, root.GetProperty("completed").GetInt32());
            Assert.Equal(0, root.GetProperty("failed").GetInt32());
            Assert.True(root.GetProperty("output_throughput").GetDouble() > 0);
            Assert.True(root.GetProperty("p99_ttft_ms").GetDouble() > 0);
            Assert.True(root.GetProperty("p90_e2el_ms").GetDouble() >= root.GetProperty("p90_ttft_ms").GetDouble());
            Assert.Equal(6.0 / report.Metrics.DurationSeconds, root.GetProperty("request_goodput").GetDouble(), 1e-6); // a lenient SLO: all good
            Assert.True(root.GetProperty("self_check").GetProperty("passed").GetBoolean());
            Assert.Equal(6, root.GetProperty("ttfts").GetArrayLength());
            Assert.Equal(6, root.GetProperty("itls").GetArrayLength());
        }

        string markdown = await File.ReadAllTextAsync(Path.Combine(_dir, "report.md")).WaitAsync(LiveGateway.Limit);
        Assert.Contains("](latency_vs_time.svg)", markdown, StringComparison.Ordinal);
        Assert.Contains("](itl_distribution.svg)", markdown, StringComparison.Ordinal);
        foreach (string chart in new[] { "latency_vs_time.svg", "itl_distribution.svg" })
        {
            XDocument svg = XDocument.Load(Path.Combine(_dir, chart));
            Assert.Equal("svg", svg.Root!.Name.LocalName);
        }

        Assert.Empty(gateway.Errors);
    }

    [Fact]
    public async Task RunAsync_SharedPrefixOverChat_SystemPromptsSent()
    {
        ServeReport report = await ServeAsync(
            "--backend", "openai-chat", "--base-url", gateway.HttpAddress.ToString(), "--dataset", "shared-prefix", "--num-prompts", "6",
            "--num-prefixes", "2", "--prefix-len", "24", "--input-len", "8", "--output-len", "4");

        Assert.Equal(6, report.Metrics.Completed);
        // The chat template wraps system and user messages: the server counts more prompt tokens than the dataset.
        Assert.All(report.Run.Outcomes, o => Assert.True(o.UsagePromptTokens > o.PromptTokens, $"usage {o.UsagePromptTokens}, dataset {o.PromptTokens}"));
        Assert.Empty(gateway.Errors);
    }

    [Theory]
    [InlineData("openai-completions")]
    [InlineData("grpc")]
    public async Task RunAsync_NothingListening_FailsNamingTheServer(string backend)
    {
        string url = $"http://127.0.0.1:{ClosedPort().ToString(CultureInfo.InvariantCulture)}/";

        // Without --model: listing the models fails; with it: the initial test request does.
        ServeFailedException listing = await Assert.ThrowsAsync<ServeFailedException>(() => ServeAsync("--backend", backend, "--base-url", url, "--num-prompts", "2"));
        ServeFailedException test = await Assert.ThrowsAsync<ServeFailedException>(() => ServeAsync("--backend", backend, "--base-url", url, "--model", "m", "--num-prompts", "2"));

        Assert.Contains($"could not list the models of {url}", listing.Message, StringComparison.Ordinal);
        Assert.Contains($"the initial test request to {url} failed", test.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("openai-completions", "http_404")]
    [InlineData("openai-chat", "http_404")]
    [InlineData("grpc", "grpc_notfound")]
    public async Task RunAsync_WrongModel_InitialTestRequestFailsWithTheServersWords(string backend, string kind)
    {
        ServeFailedException ex = await Assert.ThrowsAsync<ServeFailedException>(
            () => ServeAsync("--backend", backend, "--base-url", Address(backend).ToString(), "--model", "no-such-model", "--num-prompts", "2"));

        Assert.Contains($"the initial test request to {Address(backend)}", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"({kind})", ex.Message, StringComparison.Ordinal);
        Assert.Contains("no-such-model", ex.Message, StringComparison.Ordinal);
        Assert.Empty(gateway.Errors);
    }

    [Fact]
    public async Task RunAsync_BadRequestRate_ArgumentExceptionBeforeAnyRequest()
    {
        string url = $"http://127.0.0.1:{ClosedPort().ToString(CultureInfo.InvariantCulture)}/";

        ArgumentException ex = await Assert.ThrowsAsync<ArgumentException>(() => ServeAsync("--base-url", url, "--model", "m", "--request-rate", "0"));

        Assert.Contains("--request-rate", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_StringArgs_UnknownOptionExitsTwo()
    {
        int exit = await ServeCommand.RunAsync(["--num-promts", "5"]).WaitAsync(LiveGateway.Limit);

        Assert.Equal(2, exit);
    }
}

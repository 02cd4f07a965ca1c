using System.Net;
using System.Text.Json;
using Inference.Gateway.Tests.Infrastructure;
using Inference.Gateway.Workers;
using Inference.Scheduler;
using Inference.Worker.Cli;
using Inference.Worker.Engine;
using Inference.Worker.Runtime;
using Inference.Worker.Serving;

namespace Inference.Gateway.Tests.Http;

/// <summary>
/// The worker's admission rule decides at the gateway's door: a request that needs the blocks the scheduler
/// keeps back (its watermark) is a 400 before admission, in the engine's words, instead of being accepted and
/// then failing; one that fits exactly is served.
/// </summary>
public sealed class AdmissionRuleTests : IAsyncLifetime
{
    private WorkerHost _host = null!;
    private TestGateway _gateway = null!;

    public async Task InitializeAsync()
    {
        string dir = BundledModelLocator.Find() ?? throw new InvalidOperationException("the bundled model was not found");
        _host = WorkerHost.Start(
            new WorkerOptions { ModelDir = dir, KvCacheMemory = "1MiB" },
            new EngineOptions { Scheduler = new SchedulerOptions { Watermark = 0.25 } },
            ModelFixture.ModelName);
        _gateway = await TestGateway.StartAsync([new LocalWorker(_host, ownsHost: false)], keysJson: null);
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        _host.Dispose();
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> CompleteAsync(int promptTokens, int maxTokens)
    {
        string ids = string.Join(",", Enumerable.Range(0, promptTokens).Select(i => 100 + (i % 50)));
        using HttpResponseMessage response = await _gateway.PostAsync("/v1/completions", $$"""{"model":"{{ModelFixture.ModelName}}","prompt":[{{ids}}],"max_tokens":{{maxTokens}},"temperature":0,"ignore_eos":true}""");
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    [Fact]
    public async Task Completions_NeedsTheWatermarkBlocks_Is400BeforeAdmission_ExactFitIsServed()
    {
        WorkerInfo info = _host.Info;
        int admissibleTokens = info.AdmissibleKvBlocks * info.BlockSize;
        int cacheTokens = info.KvBlocksTotal * info.BlockSize;
        Assert.True(admissibleTokens < cacheTokens && cacheTokens <= info.MaxModelLength, $"need admissible {admissibleTokens} < cache {cacheTokens} <= context {info.MaxModelLength}");
        int prompt = admissibleTokens / 2;

        (HttpStatusCode status, JsonElement body) = await CompleteAsync(prompt, cacheTokens - prompt);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        JsonElement error = body.GetProperty("error");
        Assert.Equal("context_length_exceeded", error.GetProperty("code").GetString());
        Assert.Equal("max_tokens", error.GetProperty("param").GetString());
        Refusal expected = info.Admission.Check(prompt, cacheTokens - prompt)!;
        Assert.Equal(expected.Message, error.GetProperty("message").GetString());
        Assert.Empty(await _gateway.UsageRecordsAsync()); // refused before admission: nothing to meter

        (HttpStatusCode fitStatus, JsonElement fit) = await CompleteAsync(prompt, admissibleTokens - prompt);
        Assert.Equal(HttpStatusCode.OK, fitStatus);
        Assert.Equal(admissibleTokens - prompt, fit.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }
}

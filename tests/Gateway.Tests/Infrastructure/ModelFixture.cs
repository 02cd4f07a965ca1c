using Inference.Gateway.Workers;
using Inference.Worker.Cli;
using Inference.Worker.Engine;
using Inference.Worker.Runtime;
using Inference.Worker.Serving;
using Microsoft.Extensions.Logging;

namespace Inference.Gateway.Tests.Infrastructure;

/// <summary>A loaded model that tests put gateways in front of, reached in-process or over the worker gRPC API.</summary>
public interface IModelFixture
{
    /// <summary>The worker's host (stats, tokenizer) in this process, whichever way gateways reach it.</summary>
    WorkerHost Host { get; }

    /// <summary>A new worker handle for one gateway (the gateway disposes it; the model stays loaded).</summary>
    Task<IWorker> CreateWorkerAsync();
}

/// <summary>One in-process worker over the bundled demo model (real weights, real tokenizer), shared by a test collection.</summary>
public sealed class ModelFixture : IModelFixture, IDisposable
{
    public const string ModelName = "brown-llama-5m";

    public ModelFixture()
    {
        Host = StartHost();
        Worker = new LocalWorker(Host, ownsHost: false);
    }

    public WorkerHost Host { get; }

    /// <summary>Shares the host: gateways built over it must not dispose it.</summary>
    public LocalWorker Worker { get; }

    public Task<IWorker> CreateWorkerAsync() => Task.FromResult<IWorker>(new LocalWorker(Host, ownsHost: false));

    internal static WorkerHost StartHost()
    {
        string dir = BundledModelLocator.Find() ?? throw new InvalidOperationException("the bundled model models/brown-llama-5m was not found");
        return WorkerHost.Start(new WorkerOptions { ModelDir = dir, KvCacheMemory = "64MiB" }, new EngineOptions(), ModelName);
    }

    public void Dispose() => Host.Dispose();
}

/// <summary>The same model behind a real worker gRPC server (Kestrel h2c on loopback); gateways reach it through GrpcWorker.</summary>
public sealed class GrpcModelFixture : IModelFixture, IAsyncLifetime
{
    private WorkerServer _server = null!;

    public WorkerHost Host { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Host = ModelFixture.StartHost();
        _server = await WorkerServer.StartAsync(new WorkerServerOptions { Port = 0 }, configureLogging: b => b.ClearProviders()).WaitAsync(TimeSpan.FromSeconds(60));
        _server.Attach(Host, ownsHost: true);
    }

    public async Task<IWorker> CreateWorkerAsync()
    {
        var worker = new GrpcWorker(_server.Address);
        await worker.WaitUntilReadyAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));
        return worker;
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class ModelCollection : ICollectionFixture<ModelFixture>
{
    public const string Name = "model";
}

[CollectionDefinition(Name)]
public sealed class GrpcModelCollection : ICollectionFixture<GrpcModelFixture>
{
    public const string Name = "grpc-model";
}

/// <summary>
/// A generated Qwen2-architecture model (random weights, ChatML byte-level tokenizer, 4,096-token context) whose
/// chat template is Qwen2.5-Instruct's real one: it renders tools, assistant tool calls and tool results, which
/// the bundled model's 256-token context and Llama 2 template cannot.
/// </summary>
public sealed class ToolModelFixture : IModelFixture, IDisposable
{
    public const string ModelName = "tool-qwen-test";

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "tool-model-" + Guid.NewGuid().ToString("N"));

    public ToolModelFixture()
    {
        var config = new Inference.Worker.Models.ModelConfig
        {
            Architecture = Inference.Worker.Models.ModelArchitecture.Qwen2,
            ArchitectureName = "Qwen2ForCausalLM",
            VocabSize = 600,
            HiddenSize = 64,
            IntermediateSize = 128,
            NumHiddenLayers = 2,
            NumAttentionHeads = 4,
            NumKeyValueHeads = 2,
            HeadDim = 16,
            RmsNormEps = 1e-6,
            RopeTheta = 1000000,
            MaxPositionEmbeddings = 4096,
            TieWordEmbeddings = false,
            AttentionBias = true,
        };
        Inference.TestSupport.RandomModelWriter.Write(_dir, config, seed: 14);
        string configPath = Path.Combine(_dir, "tokenizer_config.json");
        var tokenizerConfig = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        tokenizerConfig["chat_template"] = File.ReadAllText(RepoFiles.InRepo("tests/Worker.Tests/TestData/tokenizers/chat-templates/qwen2.5-instruct.jinja"));
        File.WriteAllText(configPath, tokenizerConfig.ToJsonString());
        Host = WorkerHost.Start(new WorkerOptions { ModelDir = _dir, KvCacheMemory = "32MiB" }, new EngineOptions(), ModelName);
    }

    public WorkerHost Host { get; }

    public Task<IWorker> CreateWorkerAsync() => Task.FromResult<IWorker>(new LocalWorker(Host, ownsHost: false));

    public void Dispose()
    {
        Host.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}

[CollectionDefinition(Name)]
public sealed class ToolModelCollection : ICollectionFixture<ToolModelFixture>
{
    public const string Name = "tool-model";
}

using Inference.Gateway.Workers;
using Inference.Worker.Cli;
using Inference.Worker.Engine;
using Inference.Worker.Runtime;
using Inference.Worker.Serving;

namespace Inference.Gateway.Tests.Infrastructure;

/// <summary>One in-process worker over the bundled demo model (real weights, real tokenizer), shared by a test collection.</summary>
public sealed class ModelFixture : IDisposable
{
    public const string ModelName = "brown-llama-5m";

    public ModelFixture()
    {
        string dir = BundledModelLocator.Find() ?? throw new InvalidOperationException("the bundled model models/brown-llama-5m was not found");
        Host = WorkerHost.Start(new WorkerOptions { ModelDir = dir, KvCacheMemory = "64MiB" }, new EngineOptions(), ModelName);
        Worker = new LocalWorker(Host, ownsHost: false);
    }

    public WorkerHost Host { get; }

    /// <summary>Shares the host: gateways built over it must not dispose it.</summary>
    public LocalWorker Worker { get; }

    public void Dispose() => Host.Dispose();
}

[CollectionDefinition(Name)]
public sealed class ModelCollection : ICollectionFixture<ModelFixture>
{
    public const string Name = "model";
}

using Inference.Worker.Engine;
using Inference.Worker.Loading;
using Inference.Worker.Runtime;

namespace Inference.Gateway.Workers;

/// <summary>The worker-only build (-p:InferenceLocalWorker=false): no Worker assembly and no libtorch, so no
/// in-process worker; the gateway serves through worker daemons only.</summary>
internal static class InProcessWorkers
{
    public const bool Available = false;

    public const string Missing =
        "this gateway was built without the in-process worker (-p:InferenceLocalWorker=false): give --worker URL or --worker-dns HOST:PORT instead of --model";

    public static IWorker Start(WorkerOptions worker, EngineOptions engine, string? servedModelName, IProgress<LoadProgress>? progress, TimeProvider time) =>
        throw new ArgumentException(Missing);
}

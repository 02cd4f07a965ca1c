using Inference.Worker.Engine;
using Inference.Worker.Loading;
using Inference.Worker.Runtime;
using Inference.Worker.Serving;

namespace Inference.Gateway.Workers;

/// <summary>The in-process worker (--model): compiled into the default build, which links the Worker assembly and
/// libtorch. The worker-only build (-p:InferenceLocalWorker=false) has Remote/InProcessWorkers.cs in its place.</summary>
internal static class InProcessWorkers
{
    public const bool Available = true;

    public static IWorker Start(WorkerOptions worker, EngineOptions engine, string? servedModelName, IProgress<LoadProgress>? progress, TimeProvider time)
    {
        WorkerHost host = WorkerHost.Start(worker, engine, servedModelName, progress);
        return new LocalWorker(host, ownsHost: true, time);
    }
}

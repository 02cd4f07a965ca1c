using Inference.Worker.Loading;

namespace Inference.Worker.Tests.Loading;

/// <summary>Records progress reports synchronously (Progress&lt;T&gt; would post them to the thread pool).</summary>
internal sealed class RecordingProgress : IProgress<LoadProgress>
{
    public List<LoadProgress> Reports { get; } = [];

    public void Report(LoadProgress value) => Reports.Add(value);
}

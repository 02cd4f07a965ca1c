namespace Inference.LoadGen.Serving;

/// <summary>Sends one streamed request and times it. Implementations never throw for a failed request: the failure is
/// the outcome's <see cref="RequestOutcome.ErrorKind"/>.</summary>
public interface IServingBackend : IDisposable
{
    /// <summary>A short name for reports: openai-completions, openai-chat, grpc.</summary>
    string Name { get; }

    Task<RequestOutcome> SendAsync(BenchRequest request, CancellationToken cancellationToken);
}

using Inference.Gateway.Workers;
using Inference.Worker.Engine;

namespace Inference.Gateway.Routing;

/// <summary>
/// Orders a request's candidate workers, best first; the pool tries them in that order (a retryable refusal moves
/// on to the next). Every policy keeps each candidate exactly once, so a request is never lost to routing
/// (RoutingPolicyContract checks this for every policy). Implementations are thread-safe.
/// </summary>
public interface IRoutingPolicy
{
    /// <summary>The name operators give (--routing).</summary>
    string Name { get; }

    /// <summary>Sorts <paramref name="candidates"/> in place, best first.</summary>
    void Rank(List<RouteCandidate> candidates, GenerationRequest request);

    /// <summary>The request was admitted by <paramref name="worker"/>.</summary>
    void Routed(GenerationRequest request, IWorker worker);

    /// <summary>The worker left the pool (drained or removed): forget what the policy knows of it.</summary>
    void Forget(IWorker worker);
}

/// <summary>
/// A Ready worker serving the request's model, with its load: requests (queued ones count double, at least those
/// this gateway has in flight there) relative to the busiest candidate, in [0, 1], plus its KV use, in [0, 1].
/// </summary>
public readonly record struct RouteCandidate(IWorker Worker, int Requests, double KvFraction, double LoadScore, int TieBreak);

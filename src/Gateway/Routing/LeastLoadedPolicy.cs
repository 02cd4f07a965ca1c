using Inference.Gateway.Workers;
using Inference.Worker.Engine;

namespace Inference.Gateway.Routing;

/// <summary>The least-loaded candidate first (<see cref="RouteCandidate.LoadScore"/>); equal ones rotate so they share the traffic.</summary>
public sealed class LeastLoadedPolicy : IRoutingPolicy
{
    public const string PolicyName = "least-loaded";

    public string Name => PolicyName;

    public void Rank(List<RouteCandidate> candidates, GenerationRequest request)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        candidates.Sort(static (a, b) => a.LoadScore != b.LoadScore ? a.LoadScore.CompareTo(b.LoadScore) : a.TieBreak.CompareTo(b.TieBreak));
    }

    public void Routed(GenerationRequest request, IWorker worker)
    {
    }

    public void Forget(IWorker worker)
    {
    }
}

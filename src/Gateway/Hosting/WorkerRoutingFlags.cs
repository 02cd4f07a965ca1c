using System.CommandLine;

namespace Inference.Gateway.Hosting;

/// <summary>
/// The command-line flags of worker discovery and routing, one definition for every host that routes to workers (the
/// gateway's and the platform's command lines).
/// </summary>
public sealed class WorkerRoutingFlags
{
    public Option<string[]> WorkerDns { get; } = new("--worker-dns")
    {
        Description = "Worker discovery: HOST:PORT resolved to all its addresses (a Kubernetes headless service), each a worker; followed as it changes (repeatable)",
    };

    public Option<int> WorkerDnsRefresh { get; } = new("--worker-dns-refresh-seconds")
    {
        Description = "How often --worker-dns names are resolved again",
        DefaultValueFactory = _ => 10,
    };

    public Option<string> Routing { get; } = new("--routing")
    {
        Description = "Routing among workers: prefix-affinity or least-loaded",
        DefaultValueFactory = _ => Inference.Gateway.Routing.PrefixAffinityPolicy.PolicyName,
    };

    public Option<string?> PrefixCacheSecretFile { get; } = new("--prefix-cache-secret-file")
    {
        Description = "The workers' prefix-cache secret file: prefix-affinity hashes prompts as they do (and the in-process worker uses it)",
    };
}

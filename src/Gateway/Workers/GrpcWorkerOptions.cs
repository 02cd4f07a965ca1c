namespace Inference.Gateway.Workers;

/// <summary>How a <see cref="GrpcWorker"/> connects to and watches a worker daemon.</summary>
public sealed record GrpcWorkerOptions
{
    /// <summary>First wait between connection attempts; doubles up to <see cref="MaxReconnectDelay"/>.</summary>
    public TimeSpan InitialReconnectDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan MaxReconnectDelay { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// A worker whose Stats stream is silent this long is Down (it promises a report every 200 ms); the
    /// stream is then cancelled and its Generate calls fail as Unavailable. A worker that dies closes its
    /// connection and is Down at once; this covers a hung one. 5 s: a busy worker on a starved CPU (2 s was seen
    /// to fail healthy workers with every core saturated) is not mistaken for a hung one.
    /// </summary>
    public TimeSpan StaleAfter { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Deadline of unary calls (Info, Tokenize, Detokenize, Abort).</summary>
    public TimeSpan CallTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>TCP connect timeout: a dead address fails within it.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Throws ArgumentException naming the first bad setting.</summary>
    public void Validate()
    {
        Require(InitialReconnectDelay > TimeSpan.Zero, nameof(InitialReconnectDelay), InitialReconnectDelay);
        Require(MaxReconnectDelay >= InitialReconnectDelay, nameof(MaxReconnectDelay), MaxReconnectDelay);
        Require(StaleAfter > TimeSpan.Zero, nameof(StaleAfter), StaleAfter);
        Require(CallTimeout > TimeSpan.Zero, nameof(CallTimeout), CallTimeout);
        Require(ConnectTimeout > TimeSpan.Zero, nameof(ConnectTimeout), ConnectTimeout);
    }

    private static void Require(bool ok, string name, TimeSpan value)
    {
        if (!ok)
        {
            throw new ArgumentException($"GrpcWorkerOptions.{name} = {value} is invalid.");
        }
    }
}

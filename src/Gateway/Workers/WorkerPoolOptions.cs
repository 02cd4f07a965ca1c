namespace Inference.Gateway.Workers;

/// <summary>How a <see cref="WorkerPool"/> judges its workers (ranking is the routing policy's).</summary>
public sealed record WorkerPoolOptions
{
    /// <summary>A Ready worker counts for <see cref="WorkerPool.IsReady"/> only with a load report younger than this.</summary>
    public TimeSpan FreshLoadWithin { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Throws ArgumentException naming the first bad setting.</summary>
    public void Validate()
    {
        static void Require(bool ok, string name, object value)
        {
            if (!ok)
            {
                throw new ArgumentException($"WorkerPoolOptions.{name} = {value} is invalid.");
            }
        }

        Require(FreshLoadWithin > TimeSpan.Zero, nameof(FreshLoadWithin), FreshLoadWithin);
    }
}

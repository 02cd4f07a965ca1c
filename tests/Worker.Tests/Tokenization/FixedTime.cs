namespace Inference.Worker.Tests.Tokenization;

/// <summary>A clock stopped at one instant, for strftime_now.</summary>
internal sealed class FixedTime(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}

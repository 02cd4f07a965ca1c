namespace Inference.Gateway.Tests.Infrastructure;

/// <summary>Waits for a condition that another process or a background loop makes true, with a deadline.</summary>
internal static class Eventually
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(25);

    /// <summary>Checks <paramref name="condition"/> every 25 ms; fails naming <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static async Task TrueAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition().WaitAsync(timeout))
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out after {timeout.TotalSeconds:0} s waiting for: {what}");
            await Task.Delay(Poll);
        }
    }

    public static Task TrueAsync(Func<bool> condition, TimeSpan timeout, string what) => TrueAsync(() => Task.FromResult(condition()), timeout, what);
}

namespace Inference.Client.Tests.Infrastructure;

/// <summary>Every awaited call in these tests is bounded, so a hang fails in seconds.</summary>
internal static class TestTimeouts
{
    public static readonly TimeSpan Call = TimeSpan.FromSeconds(30);

    public static Task<T> Within<T>(this Task<T> task) => task.WaitAsync(Call);

    public static Task Within(this Task task) => task.WaitAsync(Call);

    public static Task<T> Within<T>(this ValueTask<T> task) => task.AsTask().WaitAsync(Call);
}

using System.Diagnostics;

namespace Inference.LoadGen.Serving;

/// <summary>What one run measured: every request's outcome (in send order) and the wall time from the first send to
/// the last response.</summary>
public sealed record ServeRun(IReadOnlyList<RequestOutcome> Outcomes, double DurationSeconds, DateTimeOffset StartedAt);

/// <summary>Drives a backend with a dataset under a <see cref="LoadShape"/>.</summary>
public static class ServeRunner
{
    public static async Task<ServeRun> RunAsync(
        IServingBackend backend,
        IReadOnlyList<BenchRequest> requests,
        LoadShape shape,
        ProgressBar? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(requests);
        ArgumentNullException.ThrowIfNull(shape);
        return await RunAsync(backend, requests, shape.Schedule(requests.Count), shape.MaxConcurrency, progress, cancellationToken);
    }

    /// <summary>Sends request i at <paramref name="schedule"/>[i] seconds from the start (ascending), at most
    /// <paramref name="maxConcurrency"/> in flight when given.</summary>
    public static async Task<ServeRun> RunAsync(
        IServingBackend backend,
        IReadOnlyList<BenchRequest> requests,
        IReadOnlyList<double> schedule,
        int? maxConcurrency,
        ProgressBar? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(requests);
        ArgumentNullException.ThrowIfNull(schedule);
        using var slots = maxConcurrency is { } max ? new SemaphoreSlim(max, max) : null;
        var outcomes = new RequestOutcome[requests.Count];
        var tasks = new Task[requests.Count];
        DateTimeOffset startedAt = DateTimeOffset.UtcNow;
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < requests.Count; i++)
        {
            TimeSpan wait = TimeSpan.FromSeconds(schedule[i]) - Stopwatch.GetElapsedTime(start);
            if (wait > TimeSpan.FromMilliseconds(1))
            {
                await Task.Delay(wait, cancellationToken);
            }

            tasks[i] = One(i);
        }

        await Task.WhenAll(tasks);
        return new ServeRun(outcomes, Stopwatch.GetElapsedTime(start).TotalSeconds, startedAt);

        async Task One(int index)
        {
            if (slots is not null)
            {
                await slots.WaitAsync(cancellationToken);
            }

            try
            {
                double sentAt = Stopwatch.GetElapsedTime(start).TotalSeconds;
                progress?.Started();
                RequestOutcome outcome = await backend.SendAsync(requests[index], cancellationToken);
                outcome.StartSeconds = sentAt;
                outcomes[index] = outcome;
                progress?.Finished(outcome.Success);
            }
            finally
            {
                slots?.Release();
            }
        }
    }
}

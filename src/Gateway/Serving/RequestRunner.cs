using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Inference.Gateway.Api;
using Inference.Scheduler;
using Inference.Worker.Engine;
using Inference.Worker.Sampling;
using Inference.Worker.Serving;

namespace Inference.Gateway.Serving;

/// <summary>
/// Runs a prepared request on the workers: one engine request per prompt (each with n choices), started
/// together and merged into one ordered-per-choice stream of <see cref="RunEvent"/>s. Refusals before any
/// event surface as <see cref="ApiException"/> (so HTTP can still answer with a status); failures after
/// the first event become a request-level error event. Usage is folded into <see cref="RunOutcome"/>.
/// </summary>
public static class RequestRunner
{
    /// <summary>Starts a worker request; throws WorkerException before the first event on refusal.</summary>
    public delegate IAsyncEnumerable<ServedEvent> Generate(GenerationRequest request, CancellationToken cancellationToken);

    public static GenerationRequest ToGenerationRequest(PreparedRequest prepared, int prompt)
    {
        ArgumentNullException.ThrowIfNull(prepared);
        InferenceRequest r = prepared.Request;
        return new GenerationRequest
        {
            RequestId = prepared.PromptIds.Count == 1 ? prepared.Id : $"{prepared.Id}-{prompt}",
            PromptTokens = prepared.PromptIds[prompt],
            N = r.N,
            Class = prepared.Caller.Class,
            Priority = r.Priority,
            Tenant = prepared.Caller.Tenant,
            StopStrings = r.Stop,
            SkipSpecialTokens = r.SkipSpecialTokens,
            Grammar = r.Grammar,
            Sampling = new SamplingParams
            {
                Temperature = r.Temperature,
                TopP = r.TopP,
                TopK = r.TopK,
                MinP = r.MinP,
                PresencePenalty = r.PresencePenalty,
                FrequencyPenalty = r.FrequencyPenalty,
                RepetitionPenalty = r.RepetitionPenalty,
                LogitBias = r.LogitBias,
                Seed = r.Seed is long s ? unchecked((ulong)s) : null,
                Logprobs = r.Logprobs,
                StopTokenIds = r.StopTokenIds,
                MaxTokens = prepared.MaxTokens[prompt],
                MinTokens = r.MinTokens,
                IgnoreEos = r.IgnoreEos,
            },
        };
    }

    public static async IAsyncEnumerable<RunEvent> RunAsync(
        PreparedRequest prepared, Generate generate, RunOutcome outcome, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prepared);
        ArgumentNullException.ThrowIfNull(generate);
        ArgumentNullException.ThrowIfNull(outcome);
        int prompts = prepared.PromptIds.Count;
        int n = prepared.Request.N;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var enumerators = new IAsyncEnumerator<ServedEvent>[prompts];
        var firsts = new Task<bool>[prompts];
        Task[]? pumps = null;
        try
        {
            // Start every prompt, then wait for each one's first event: a refusal of any prompt refuses the
            // whole request before anything was sent (the others are cancelled, their blocks freed).
            for (int p = 0; p < prompts; p++)
            {
                enumerators[p] = generate(ToGenerationRequest(prepared, p), linked.Token).GetAsyncEnumerator(linked.Token);
                firsts[p] = enumerators[p].MoveNextAsync().AsTask();
            }

            try
            {
                await Task.WhenAll(firsts).ConfigureAwait(false);
            }
            catch (WorkerException ex)
            {
                await linked.CancelAsync().ConfigureAwait(false);
                throw ApiException.From(ex.Refusal);
            }

            if (prompts == 1)
            {
                bool more = firsts[0].Result;
                var counter = new PromptCounter();
                while (more)
                {
                    ServedEvent e = enumerators[0].Current;
                    if (Fold(e, 0, n, outcome, counter, out RunEvent run))
                    {
                        yield return run;
                    }

                    (more, ServedEvent? failure) = await NextAsync(enumerators[0]).ConfigureAwait(false);
                    if (failure is not null)
                    {
                        Fold(failure, 0, n, outcome, counter, out RunEvent failed);
                        yield return failed;
                    }
                }

                outcome.Completed = outcome.Error is null && counter.UsageSeen;
                yield break;
            }

            // Several prompts: pump each into one channel. Unbounded is safe: each producer is a worker
            // stream that the engine already bounds per request.
            var merged = Channel.CreateUnbounded<(int Prompt, ServedEvent Event)>(new UnboundedChannelOptions { SingleReader = true });
            pumps = new Task[prompts];
            for (int p = 0; p < prompts; p++)
            {
                pumps[p] = PumpAsync(enumerators[p], firsts[p].Result, p, merged.Writer);
            }

            _ = Task.WhenAll(pumps).ContinueWith(_ => merged.Writer.TryComplete(), TaskScheduler.Default);
            var counters = new PromptCounter[prompts];
            for (int p = 0; p < prompts; p++)
            {
                counters[p] = new PromptCounter();
            }

            await foreach ((int prompt, ServedEvent e) in merged.Reader.ReadAllAsync(linked.Token).ConfigureAwait(false))
            {
                if (Fold(e, prompt, n, outcome, counters[prompt], out RunEvent run))
                {
                    yield return run;
                }
            }

            outcome.Completed = outcome.Error is null && counters.All(c => c.UsageSeen);
        }
        finally
        {
            await linked.CancelAsync().ConfigureAwait(false);
            if (pumps is not null)
            {
                // A pump may be inside MoveNextAsync; disposing under it is not allowed.
                await Task.WhenAll(pumps).ConfigureAwait(false);
            }

            foreach (Task<bool>? first in firsts)
            {
                if (first is not null)
                {
                    await ((Task)first).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }
            }

            foreach (IAsyncEnumerator<ServedEvent>? e in enumerators)
            {
                if (e is not null)
                {
                    try
                    {
                        await e.DisposeAsync().ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is OperationCanceledException or WorkerException)
                    {
                        // Disposing a cancelled worker stream; the abort has been sent.
                    }
                }
            }
        }
    }

    private static async Task<(bool More, ServedEvent? Failure)> NextAsync(IAsyncEnumerator<ServedEvent> e)
    {
        try
        {
            return (await e.MoveNextAsync().ConfigureAwait(false), null);
        }
        catch (WorkerException ex)
        {
            return (false, new ServedEvent { Choice = -1, Finish = FinishReason.Error, Error = $"the worker failed mid-stream: {ex.Message}" });
        }
    }

    private static async Task PumpAsync(IAsyncEnumerator<ServedEvent> e, bool more, int prompt, ChannelWriter<(int, ServedEvent)> writer)
    {
        try
        {
            while (more)
            {
                writer.TryWrite((prompt, e.Current));
                (more, ServedEvent? failure) = await NextAsync(e).ConfigureAwait(false);
                if (failure is not null)
                {
                    writer.TryWrite((prompt, failure));
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The merged reader went away; the finally of RunAsync disposes the enumerator (abort).
        }
    }

    private static bool Fold(ServedEvent e, int prompt, int n, RunOutcome outcome, PromptCounter counter, out RunEvent run)
    {
        if (e.Usage is { } usage)
        {
            counter.UsageSeen = true;
            outcome.PromptTokens += usage.PromptTokens;
            outcome.CompletionTokens += usage.CompletionTokens - counter.Counted; // replace the running count by the truth
            counter.Counted = usage.CompletionTokens;
            outcome.CachedTokens += usage.CachedPromptTokens;
            outcome.Preemptions += usage.Preemptions;
            if (usage.QueueTime > outcome.QueueTime)
            {
                outcome.QueueTime = usage.QueueTime;
            }

            if (usage.CompletionTokens > 0 && (outcome.TimeToFirstToken is null || usage.TimeToFirstToken < outcome.TimeToFirstToken))
            {
                outcome.TimeToFirstToken = usage.TimeToFirstToken;
            }

            run = default;
            return false;
        }

        if (e.Choice < 0)
        {
            if (e.Error is not null)
            {
                outcome.Error ??= e.Error;
            }

            run = new RunEvent(-1, e);
            return e.Error is not null;
        }

        if (e.TokenId >= 0 && !counter.UsageSeen)
        {
            counter.Counted++;
            outcome.CompletionTokens++;
        }

        int index = (prompt * n) + e.Choice;
        if (e.Finish != FinishReason.None)
        {
            outcome.SetFinish(index, e.Finish);
        }

        run = new RunEvent(index, e);
        return true;
    }

    private sealed class PromptCounter
    {
        public int Counted { get; set; }

        public bool UsageSeen { get; set; }
    }
}

namespace Inference.Scheduler;

/// <summary>Batching, memory and fairness settings of one worker's scheduler. Checked by <see cref="Validate"/>.</summary>
public sealed record SchedulerOptions
{
    /// <summary>Most sequences in one step (running decodes plus prefills).</summary>
    public int MaxNumSeqs { get; init; } = 256;

    /// <summary>Most tokens in one step: one per decode plus prefill chunks.</summary>
    public int MaxNumBatchedTokens { get; init; } = 2048;

    /// <summary>
    /// Most prompt tokens one sequence prefills in a step (vLLM's long_prefill_token_threshold); 0: up to the step's
    /// whole budget. A smaller chunk lets several prompts start in the same step and bounds how long one long prompt
    /// holds the step (inter-token latency of running decodes) at some cost in prefill throughput.
    /// </summary>
    public int LongPrefillTokenThreshold { get; init; }

    /// <summary>Fraction of KV blocks kept free when admitting new work, so running decodes rarely preempt.</summary>
    public double Watermark { get; init; } = 0.01;

    /// <summary>A waiting request of a higher class may preempt running lower-class work.</summary>
    public bool PriorityPreemption { get; init; } = true;

    /// <summary>How many times one sequence may be preempted for priority (memory pressure is not bounded).</summary>
    public int MaxPriorityPreemptionsPerSequence { get; init; } = 2;

    /// <summary>Most prompt + output tokens of one sequence (the model's context); part of the <see cref="AdmissionRule"/>.</summary>
    public int MaxModelLength { get; init; } = int.MaxValue;

    /// <summary>Waiting requests beyond which new ones are refused at once.</summary>
    public int MaxQueuedRequests { get; init; } = 4096;

    /// <summary>Waiting prompt tokens beyond which new requests are refused at once.</summary>
    public long MaxQueuedTokens { get; init; } = 4_000_000;

    /// <summary>A waiting request moves up one class per interval waited (zero disables aging).</summary>
    public TimeSpan AgingInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Fairness weights per tenant; tenants not listed get <see cref="DefaultTenantWeight"/>.</summary>
    public IReadOnlyDictionary<string, double> TenantWeights { get; init; } = new Dictionary<string, double>();

    public double DefaultTenantWeight { get; init; } = 1.0;

    /// <summary>Throws ArgumentException naming the first bad setting.</summary>
    public void Validate()
    {
        static void Require(bool ok, string name, object value, string rule)
        {
            if (!ok)
            {
                throw new ArgumentException($"SchedulerOptions.{name} = {value} is invalid: {rule}.");
            }
        }

        Require(MaxNumSeqs >= 1, nameof(MaxNumSeqs), MaxNumSeqs, "must be >= 1");
        Require(MaxNumBatchedTokens >= 1, nameof(MaxNumBatchedTokens), MaxNumBatchedTokens, "must be >= 1");
        Require(LongPrefillTokenThreshold >= 0, nameof(LongPrefillTokenThreshold), LongPrefillTokenThreshold, "must be >= 0 (0: no limit)");
        Require(Watermark is >= 0 and < 1, nameof(Watermark), Watermark, "must be in [0, 1)");
        Require(MaxPriorityPreemptionsPerSequence >= 0, nameof(MaxPriorityPreemptionsPerSequence), MaxPriorityPreemptionsPerSequence, "must be >= 0");
        Require(MaxModelLength >= 1, nameof(MaxModelLength), MaxModelLength, "must be >= 1");
        Require(MaxQueuedRequests >= 1, nameof(MaxQueuedRequests), MaxQueuedRequests, "must be >= 1");
        Require(MaxQueuedTokens >= 1, nameof(MaxQueuedTokens), MaxQueuedTokens, "must be >= 1");
        Require(AgingInterval >= TimeSpan.Zero, nameof(AgingInterval), AgingInterval, "must not be negative");
        Require(DefaultTenantWeight > 0, nameof(DefaultTenantWeight), DefaultTenantWeight, "must be > 0");
        foreach ((string tenant, double weight) in TenantWeights)
        {
            Require(weight > 0 && !double.IsInfinity(weight), $"TenantWeights[{tenant}]", weight, "must be finite and > 0");
        }
    }
}

using Inference.Gateway.Workers;
using Inference.Worker.Engine;
using Prometheus;

namespace Inference.Gateway.Metrics;

/// <summary>
/// The gateway's Prometheus metrics, in its own registry (several gateways can live in one process).
/// Names follow vLLM's (num_requests_running, time_to_first_token_seconds, ...) under the "inference_"
/// prefix. Worker gauges are read from the pool's load reports at scrape time. Key ids in labels are
/// hash-derived, never the key.
/// </summary>
public sealed class GatewayMetrics
{
    private static readonly double[] LatencyBuckets = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];
    private static readonly double[] TokenLatencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5];

    private readonly Counter _requests;
    private readonly Histogram _ttft;
    private readonly Histogram _itl;
    private readonly Histogram _e2e;
    private readonly Histogram _queue;
    private readonly Counter _promptTokens;
    private readonly Counter _generationTokens;
    private readonly Counter _cacheHits;
    private readonly Counter _cacheMisses;
    private readonly Counter _rateLimited;
    private readonly Counter _rejected;
    private readonly Histogram _keyLatency;
    private readonly Gauge _running;
    private readonly Gauge _waitingByClass;
    private readonly Counter _tenantTokens;
    private readonly Gauge _waiting;
    private readonly Gauge _kvUsage;
    private readonly Gauge _preemptions;
    private readonly Gauge _prefixHits;
    private readonly Gauge _prefixQueries;
    private readonly Gauge _workerHealthy;
    private readonly Gauge _inFlight;
    private int _inFlightCount;

    public GatewayMetrics(Func<IReadOnlyList<IWorker>> workers)
    {
        ArgumentNullException.ThrowIfNull(workers);
        Registry = Prometheus.Metrics.NewCustomRegistry();
        MetricFactory f = Prometheus.Metrics.WithCustomRegistry(Registry);
        _requests = f.CreateCounter("inference_request_total", "Finished requests by API, status and finish reason.", "api", "status", "finished_reason");
        _ttft = f.CreateHistogram("inference_time_to_first_token_seconds", "Time to first token.", new HistogramConfiguration { Buckets = LatencyBuckets, LabelNames = ["model"] });
        _itl = f.CreateHistogram("inference_inter_token_latency_seconds", "Time between streamed tokens.", new HistogramConfiguration { Buckets = TokenLatencyBuckets, LabelNames = ["model"] });
        _e2e = f.CreateHistogram("inference_e2e_request_latency_seconds", "End-to-end request latency.", new HistogramConfiguration { Buckets = LatencyBuckets, LabelNames = ["model"] });
        _queue = f.CreateHistogram("inference_request_queue_time_seconds", "Time spent waiting in the worker's queue.", new HistogramConfiguration { Buckets = LatencyBuckets, LabelNames = ["model"] });
        _promptTokens = f.CreateCounter("inference_prompt_tokens_total", "Prompt tokens processed.", "model");
        _generationTokens = f.CreateCounter("inference_generation_tokens_total", "Tokens generated.", "model");
        _cacheHits = f.CreateCounter("inference_response_cache_hits_total", "Requests answered from the response cache.");
        _cacheMisses = f.CreateCounter("inference_response_cache_misses_total", "Cacheable requests not found in the response cache.");
        _rateLimited = f.CreateCounter("inference_rate_limit_rejections_total", "Requests refused by rate limits or budgets.", "reason");
        _rejected = f.CreateCounter("inference_request_rejections_total", "Requests refused before admission, by HTTP status.", "status");
        _keyLatency = f.CreateHistogram("inference_key_request_latency_seconds", "End-to-end latency per API key (hashed key id).", new HistogramConfiguration { Buckets = LatencyBuckets, LabelNames = ["key_id"] });
        _running = f.CreateGauge("inference_num_requests_running", "Sequences running in a worker.", "worker");
        _waiting = f.CreateGauge("inference_num_requests_waiting", "Sequences waiting in a worker.", "worker");
        _waitingByClass = f.CreateGauge("inference_num_requests_waiting_by_class", "Sequences waiting in a worker, by priority class.", "worker", "priority_class");
        _tenantTokens = f.CreateCounter("inference_tenant_tokens_total", "Prompt and generated tokens per tenant (kind: prompt or generation).", "tenant", "kind");
        _kvUsage = f.CreateGauge("inference_kv_cache_usage_perc", "Fraction of KV blocks in use (1 = full).", "worker");
        _preemptions = f.CreateGauge("inference_num_preemptions", "Preemptions since the worker started.", "worker");
        _prefixHits = f.CreateGauge("inference_prefix_cache_hits", "Prompt tokens served from the prefix cache since start.", "worker");
        _prefixQueries = f.CreateGauge("inference_prefix_cache_queries", "Prompt tokens looked up in the prefix cache since start.", "worker");
        _workerHealthy = f.CreateGauge("inference_worker_healthy", "1 when the worker is ready, else 0.", "worker");
        _inFlight = f.CreateGauge("inference_gateway_requests_in_flight", "Requests being served by the gateway.");
        Registry.AddBeforeCollectCallback(() =>
        {
            _inFlight.Set(InFlight);
            foreach (IWorker w in workers())
            {
                _workerHealthy.WithLabels(w.Id).Set(w.State == WorkerState.Ready ? 1 : 0);
                if (w.Load is EngineStats s)
                {
                    _running.WithLabels(w.Id).Set(s.Running);
                    _waiting.WithLabels(w.Id).Set(s.WaitingInteractive + s.WaitingStandard + s.WaitingBatch);
                    _waitingByClass.WithLabels(w.Id, "interactive").Set(s.WaitingInteractive);
                    _waitingByClass.WithLabels(w.Id, "standard").Set(s.WaitingStandard);
                    _waitingByClass.WithLabels(w.Id, "batch").Set(s.WaitingBatch);
                    _kvUsage.WithLabels(w.Id).Set(s.KvBlocksTotal == 0 ? 0 : (double)s.KvBlocksUsed / s.KvBlocksTotal);
                    _preemptions.WithLabels(w.Id).Set(s.Preemptions);
                    _prefixHits.WithLabels(w.Id).Set(s.PrefixCacheHitTokens);
                    _prefixQueries.WithLabels(w.Id).Set(s.PrefixCacheQueryTokens);
                }
            }
        });
        GpuMetrics.Register(Registry, workers);
    }

    public CollectorRegistry Registry { get; }

    /// <summary>Admitted requests not yet ended (what a drain waits for).</summary>
    public int InFlight => Volatile.Read(ref _inFlightCount);

    public void RequestStarted() => Interlocked.Increment(ref _inFlightCount);

    public void RequestEnded() => Interlocked.Decrement(ref _inFlightCount);

    public void Finished(string api, string status, string finishReason) => _requests.WithLabels(api, status, finishReason).Inc();

    public void Latencies(string model, string keyId, TimeSpan? ttft, TimeSpan? queue, TimeSpan e2e)
    {
        if (ttft is { } t)
        {
            _ttft.WithLabels(model).Observe(t.TotalSeconds);
        }

        if (queue is { } q)
        {
            _queue.WithLabels(model).Observe(q.TotalSeconds);
        }

        _e2e.WithLabels(model).Observe(e2e.TotalSeconds);
        _keyLatency.WithLabels(keyId).Observe(e2e.TotalSeconds);
    }

    public void InterTokenLatency(string model, double seconds) => _itl.WithLabels(model).Observe(seconds);

    public void Tokens(string model, string tenant, int prompt, int generated)
    {
        _promptTokens.WithLabels(model).Inc(prompt);
        _generationTokens.WithLabels(model).Inc(generated);
        _tenantTokens.WithLabels(tenant, "prompt").Inc(prompt);
        _tenantTokens.WithLabels(tenant, "generation").Inc(generated);
    }

    public void ResponseCache(bool hit) => (hit ? _cacheHits : _cacheMisses).Inc();

    public void RateLimited(string reason) => _rateLimited.WithLabels(reason).Inc();

    public void Rejected(int status) => _rejected.WithLabels(status.ToString(System.Globalization.CultureInfo.InvariantCulture)).Inc();

    /// <summary>
    /// Publishes <c>inference_limits_store_up</c>: 1 while the shared limits store (--redis) answers, 0 while it is
    /// unreachable and this replica serves with local limits; read at scrape time. Not published without --redis.
    /// </summary>
    public void TrackLimitsStore(Func<bool> up)
    {
        ArgumentNullException.ThrowIfNull(up);
        Gauge gauge = Prometheus.Metrics.WithCustomRegistry(Registry)
            .CreateGauge("inference_limits_store_up", "1 when the shared limits store (Redis) is reachable, 0 while this replica serves with local limits.");
        Registry.AddBeforeCollectCallback(() => gauge.Set(up() ? 1 : 0));
    }

    /// <summary>Writes the Prometheus text exposition format.</summary>
    public Task ExportAsync(Stream stream, CancellationToken cancellationToken) => Registry.CollectAndExportAsTextAsync(stream, cancellationToken);
}

using System.Threading.Channels;
using BenchmarkDotNet.Attributes;
using Inference.Worker.Cli;
using Inference.Worker.Engine;
using Inference.Worker.Runtime;
using Inference.Worker.Sampling;

namespace Inference.Bench;

/// <summary>
/// Managed allocations and time of one decode <see cref="EngineCore.Step"/> (the production step: schedule,
/// forward, sample, update, events) on the bundled model, at batch 1 and 32, greedy or with sampling and penalties.
/// Each iteration starts from a fresh decode batch (prompts prefilled in the setup), then runs 64 decode steps, so
/// no request finishes inside the measurement. BenchmarkDotNet's MemoryDiagnoser reports bytes per step.
/// </summary>
[MemoryDiagnoser]
public class StepBenchmark
{
    private const int StepsPerIteration = 64;
    private const int PromptLength = 16;

    private ModelRuntime _runtime = null!;
    private EngineCore _core = null!;
    private readonly List<ChannelReader<EngineEvent>> _streams = [];
    private int _generation;

    [Params(1, 32)]
    public int Batch { get; set; }

    [Params("greedy", "sampled")]
    public string Mode { get; set; } = "greedy";

    [GlobalSetup]
    public void Setup()
    {
        string dir = BundledModelLocator.Find() ?? throw new DirectoryNotFoundException($"{BundledModelLocator.RelativePath} not found above the current directory or the binaries");
        _runtime = ModelRuntime.Load(new WorkerOptions { ModelDir = dir, Dtype = "float32", KvCacheMemory = "64MiB" });
    }

    [GlobalCleanup]
    public void Cleanup() => _runtime.Dispose();

    [IterationSetup]
    public void StartBatch()
    {
        _core = new EngineCore(_runtime, new EngineOptions { EnablePrefixCaching = false }, TimeProvider.System, new Random(0));
        _streams.Clear();
        _generation++;
        var random = new Random(_generation);
        SamplingParams sampling = Mode == "greedy"
            ? new SamplingParams { Temperature = 0, MaxTokens = StepsPerIteration + 8, IgnoreEos = true }
            : new SamplingParams { Temperature = 0.8f, TopP = 0.9f, FrequencyPenalty = 0.5f, PresencePenalty = 0.2f, MaxTokens = StepsPerIteration + 8, IgnoreEos = true };
        for (int i = 0; i < Batch; i++)
        {
            int[] prompt = new int[PromptLength];
            for (int j = 0; j < prompt.Length; j++)
            {
                prompt[j] = random.Next(_runtime.Config.VocabSize);
            }

            var request = new GenerationRequest { RequestId = $"g{_generation}-{i}", PromptTokens = prompt, Sampling = sampling };
            if (_core.Add(request, out ChannelReader<EngineEvent>? events) is { } refusal)
            {
                throw new InvalidOperationException(refusal.Message);
            }

            _streams.Add(events!);
        }

        // Prefill (one step for these prompt lengths) so every measured step is a decode step.
        _core.Step();
        Drain();
    }

    [Benchmark(OperationsPerInvoke = StepsPerIteration)]
    public void DecodeStep()
    {
        for (int i = 0; i < StepsPerIteration; i++)
        {
            _core.Step();
            Drain();
        }
    }

    [IterationCleanup]
    public void EndBatch()
    {
        for (int i = 0; i < Batch; i++)
        {
            _core.Abort($"g{_generation}-{i}");
        }

        while (_core.HasWork)
        {
            _core.Step();
        }
    }

    private void Drain()
    {
        foreach (ChannelReader<EngineEvent> s in _streams)
        {
            while (s.TryRead(out _))
            {
            }
        }
    }
}

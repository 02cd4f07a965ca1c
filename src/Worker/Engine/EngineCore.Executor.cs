using System.Diagnostics;
using System.Runtime.InteropServices;
using Inference.Scheduler;
using Inference.Scheduler.Batching;
using Inference.Scheduler.KvCache;
using Inference.Worker.Models;
using Inference.Worker.Runtime;
using Inference.Worker.Sampling;
using static TorchSharp.torch;

namespace Inference.Worker.Engine;

public sealed partial class EngineCore
{
    /// <summary>
    /// Executes one planned step on the device: block copies, one forward, one sampling pass. The sampled token of
    /// each target is read back with <see cref="TokenAt"/>; the update is the core's.
    /// </summary>
    private sealed class Executor
    {
        private readonly EngineCore _owner;
        private readonly ForwardBatch _batch;
        private readonly Sampler _sampler;
        private readonly SampleResult _result = new();
        private readonly List<SequenceState> _targets = [];
        private readonly List<long> _rows = [];
        private readonly List<int> _copySources = [];
        private readonly List<int> _copyDestinations = [];

        public Executor(EngineCore owner)
        {
            _owner = owner;
            _sampler = new Sampler(owner._runtime.EosTokenIds);
            _batch = new ForwardBatch { BlockSize = owner._runtime.Cache.BlockSize };
            Batch = new SamplingBatch(owner._options.Scheduler.MaxNumSeqs, owner._runtime.Config.VocabSize, owner._runtime.Model.OutputDevice);
        }

        /// <summary>The persistent sampling state of the running sequences.</summary>
        public SamplingBatch Batch { get; }

        /// <summary>Sequences sampled into by the last step, in row order.</summary>
        public IReadOnlyList<SequenceState> Targets => _targets;

        public int TokenAt(int target) => _result.TokenIds[target];

        /// <summary>Returns the forward and sampling times, or an error message when the device step failed.</summary>
        public (double ForwardMicros, double SampleMicros, string? Error) Execute(StepPlan plan)
        {
            ModelRuntime runtime = _owner._runtime;
            _batch.Clear();
            foreach (SequenceState previous in _targets)
            {
                previous.Target = -1;
            }

            _targets.Clear();
            _rows.Clear();
            Batch.BeginStep();
            int logitRow = 0;
            foreach (ScheduledChunk chunk in plan.Chunks)
            {
                Sequence seq = chunk.Sequence;
                ReadOnlySpan<int> tokens = seq.TokenSpan.Slice(chunk.ContextLength, chunk.NumNewTokens);
                _batch.Add(tokens, chunk.ContextLength, seq.BlockTable.Blocks, chunk.NeedsSample);
                if (!chunk.NeedsSample)
                {
                    continue;
                }

                IReadOnlyList<Sequence> sampleInto = chunk.SampleInto;
                RequestState request = _owner.StateOf(seq)!.Request;
                for (int k = 0; k < sampleInto.Count; k++)
                {
                    // Indexed, not foreach: enumerating an IReadOnlyList allocates an enumerator per chunk.
                    Sequence forked = sampleInto[k];
                    SequenceState target = _owner.StateOf(forked) ?? _owner.Track(forked, request); // forks share their request
                    target.Target = _targets.Count;
                    _targets.Add(target);
                    _rows.Add(logitRow);
                    AddSampleRow(target);
                }

                logitRow++;
            }

            long start = Stopwatch.GetTimestamp();
            long afterForward;
            try
            {
                using var scope = NewDisposeScope();
                using var noGrad = inference_mode();
                CopyBlocks(plan.BlockCopies);
                Tensor logits = runtime.Model.Forward(_batch, runtime.Cache);
                afterForward = Stopwatch.GetTimestamp();
                if (_targets.Count > 0)
                {
                    if (_targets.Count != logitRow)
                    {
                        // n > 1: forks sample from their parent's row.
                        logits = logits.index_select(0, tensor(CollectionsMarshal.AsSpan(_rows).ToArray(), ScalarType.Int64, logits.device));
                    }

                    _sampler.Sample(logits, Batch, _result);
                }
            }
            catch (Exception ex) when (ex is ExternalException or ArgumentException or InvalidOperationException or OutOfMemoryException)
            {
                foreach (SequenceState target in _targets)
                {
                    target.Target = -1;
                }

                _targets.Clear();
                return (0, 0, $"engine step failed: {ex.Message}");
            }

            long end = Stopwatch.GetTimestamp();
            return (Stopwatch.GetElapsedTime(start, afterForward).TotalMicroseconds, Stopwatch.GetElapsedTime(afterForward, end).TotalMicroseconds, null);
        }

        public (float Logprob, TokenLogprob[]? Top) LogprobsOf(SequenceState target)
        {
            int row = target.Target;
            if (row < 0 || target.Request.Request.Sampling.Logprobs is not int n)
            {
                return (float.NaN, null);
            }

            var top = new TokenLogprob[Math.Min(n, _result.TopN)];
            for (int j = 0; j < top.Length; j++)
            {
                int k = (row * _result.TopN) + j;
                top[j] = new TokenLogprob(_result.TopIds[k], _result.TopLogprobs[k]);
            }

            return (_result.Logprobs[row], top);
        }

        // The target's next row of the step; a sequence that has just started running (or resumed after a
        // preemption) joins the batch with its history first.
        private void AddSampleRow(SequenceState target)
        {
            Sequence seq = target.Sequence;
            SamplingParams p = target.Request.Request.Sampling;
            if (target.Row < 0)
            {
                target.Row = Batch.Join(p, seq.Request.PromptTokens, new TokenSlice(seq.Tokens, seq.PromptLength));
            }

            double u = 0;
            if (!p.IsGreedy)
            {
                // Each choice of an n > 1 request draws its own stream; a seeded one is batch-independent.
                u = p.Seed is ulong seed
                    ? SeededUniform.At(seed + (0x9E3779B97F4A7C15UL * (ulong)seq.Index), seq.OutputLength)
                    : _owner._random.NextDouble();
            }

            // OutputLength counts tokens already generated, recomputed ones included after a preemption.
            bool belowMin = seq.OutputLength < p.MinTokens;
            if (target.Matcher is { } matcher)
            {
                // min_tokens never masks end of sequence when the grammar allows nothing else.
                ReadOnlyMemory<byte> allowed = matcher.AllowedTokens(out bool onlyEnd);
                Batch.AddRow(target.Row, u, belowMin && !onlyEnd, allowed);
                return;
            }

            Batch.AddRow(target.Row, u, belowMin);
        }

        private void CopyBlocks(List<BlockCopy> copies)
        {
            if (copies.Count == 0)
            {
                return;
            }

            _copySources.Clear();
            _copyDestinations.Clear();
            foreach (BlockCopy copy in copies)
            {
                _copySources.Add(copy.Source);
                _copyDestinations.Add(copy.Destination);
            }

            _owner._runtime.Cache.CopyBlocks(CollectionsMarshal.AsSpan(_copySources), CollectionsMarshal.AsSpan(_copyDestinations));
        }
    }
}

using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Inference.Scheduler;
using Inference.Worker.Tokenization;

namespace Inference.Worker.Engine;

/// <summary>
/// The reader side of one request: turns the loop's token events into text deltas (incremental
/// detokenization runs here, off the loop thread) and matches stop strings with hold-back, so text
/// that might begin a stop string is not streamed until it is known not to. A matched stop string ends
/// its choice in the engine at once. Abandoning the enumeration (or cancelling it) aborts the request.
/// </summary>
public sealed class GenerationStream
{
    private readonly EngineLoop _engine;
    private readonly GenerationRequest _request;
    private readonly ChannelReader<EngineEvent> _reader;
    private readonly ModelTokenizer _tokenizer;

    internal GenerationStream(EngineLoop engine, GenerationRequest request, ChannelReader<EngineEvent> reader, ModelTokenizer tokenizer)
    {
        _engine = engine;
        _request = request;
        _reader = reader;
        _tokenizer = tokenizer;
    }

    public string RequestId => _request.RequestId;

    /// <summary>Set once the stream has ended.</summary>
    public RequestUsage? Usage { get; private set; }

    public async IAsyncEnumerable<GenerationDelta> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var choices = new ChoiceText[_request.N];
        for (int i = 0; i < choices.Length; i++)
        {
            choices[i] = new ChoiceText(_tokenizer.CreateDetokenizer(_request.SkipSpecialTokens, _request.PromptTokens), _request.StopStrings, _request.Sampling.MinTokens);
        }

        bool completed = false;
        try
        {
            while (await _reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (_reader.TryRead(out EngineEvent e))
                {
                    if (e.Usage is not null)
                    {
                        // The engine may have generated a few tokens past a stop string before StopChoice reached
                        // it (timing-dependent): bill what was delivered, up to the token that completed the match.
                        Usage = e.Usage with { CompletionTokens = DeliveredTokens(choices) };
                        completed = true;
                        yield return new GenerationDelta { Choice = -1, Usage = Usage, Timestamp = e.Timestamp };
                        continue;
                    }

                    if (e.Choice < 0)
                    {
                        // Request-level end: error, abort or shutdown.
                        yield return new GenerationDelta { Choice = -1, FinishReason = e.Finish, Error = e.Error, Timestamp = e.Timestamp };
                        continue;
                    }

                    ChoiceText choice = choices[e.Choice];
                    if (choice.Done)
                    {
                        continue; // tokens generated after a stop string matched, before the engine saw the stop
                    }

                    GenerationDelta? delta = choice.Accept(e);
                    if (choice.StoppedByString)
                    {
                        _engine.StopChoice(_request.RequestId, e.Choice);
                    }

                    if (delta is not null)
                    {
                        yield return delta;
                    }
                }
            }

            completed = true;
        }
        finally
        {
            if (!completed)
            {
                _engine.Abort(_request.RequestId);
            }
        }
    }

    private static int DeliveredTokens(ChoiceText[] choices)
    {
        int total = 0;
        foreach (ChoiceText choice in choices)
        {
            total += choice.Tokens;
        }

        return total;
    }

    /// <summary>
    /// Per-choice detokenizer and stop-string hold-back. Stop strings are matched only once the choice
    /// has <paramref name="minTokens"/> tokens (vLLM skips the check below min_tokens); text is still held
    /// back before that, so a stop string that straddles the min_tokens boundary is cut like any other.
    /// </summary>
    private sealed class ChoiceText(IncrementalDetokenizer detokenizer, IReadOnlyList<string> stops, int minTokens)
    {
        private readonly int _longestStop = stops.Count == 0 ? 0 : stops.Max(s => s.Length);
        private string _held = string.Empty;

        // Token events seen; the loop never re-sends tokens recomputed after a preemption, so this is the
        // choice's output length.
        private int _tokens;

        public bool Done { get; private set; }

        /// <summary>Tokens delivered for this choice: none after a stop string matched.</summary>
        public int Tokens => _tokens;

        public bool StoppedByString { get; private set; }

        public GenerationDelta? Accept(EngineEvent e)
        {
            string text = string.Empty;
            if (e.HasToken)
            {
                text = detokenizer.Push(e.TokenId);
                _tokens++;
            }

            bool finishing = e.Finish != FinishReason.None;
            if (finishing)
            {
                text += detokenizer.Flush();
            }

            string candidate = _held + text;
            if (_longestStop > 0 && _tokens >= minTokens && FindStop(candidate, out int at, out string? stop))
            {
                Done = true;
                StoppedByString = !finishing;
                _held = string.Empty;
                return new GenerationDelta
                {
                    Choice = Choice(e),
                    Text = candidate[..at],
                    TokenId = e.TokenId,
                    Logprob = e.Logprob,
                    TopLogprobs = e.TopLogprobs,
                    FinishReason = FinishReason.Stop,
                    StopString = stop,
                    Timestamp = e.Timestamp,
                };
            }

            string emit;
            if (finishing || _longestStop == 0)
            {
                emit = candidate;
                _held = string.Empty;
            }
            else
            {
                int keep = HoldBack(candidate);
                emit = candidate[..^keep];
                _held = candidate[^keep..];
            }

            Done = finishing;
            if (!e.HasToken && emit.Length == 0 && !finishing)
            {
                return null;
            }

            return new GenerationDelta
            {
                Choice = Choice(e),
                Text = emit,
                TokenId = e.TokenId,
                Logprob = e.Logprob,
                TopLogprobs = e.TopLogprobs,
                FinishReason = e.Finish,
                Timestamp = e.Timestamp,
            };
        }

        private static int Choice(EngineEvent e) => e.Choice;

        private bool FindStop(string text, out int at, out string? stop)
        {
            at = int.MaxValue;
            stop = null;
            foreach (string s in stops)
            {
                int i = s.Length == 0 ? -1 : text.IndexOf(s, StringComparison.Ordinal);
                if (i >= 0 && i < at)
                {
                    at = i;
                    stop = s;
                }
            }

            return stop is not null;
        }

        // Length of the longest suffix of text that is a proper prefix of some stop string.
        private int HoldBack(string text)
        {
            int max = Math.Min(text.Length, _longestStop - 1);
            for (int k = max; k > 0; k--)
            {
                ReadOnlySpan<char> suffix = text.AsSpan(text.Length - k);
                foreach (string s in stops)
                {
                    if (s.Length > k && s.AsSpan(0, k).SequenceEqual(suffix))
                    {
                        return k;
                    }
                }
            }

            return 0;
        }
    }
}

namespace Inference.Worker.Constraints;

/// <summary>Byte-level stepping over the grammar's stacks, as llama.cpp's advance_stack and accept.</summary>
public sealed partial class Grammar
{
    /// <summary>The most live stacks a state may hold; an output that is this ambiguous is refused (its state is dead).</summary>
    internal const int MaxStacks = 4096;

    private MatchState? _initial;

    /// <summary>The state before any output: the root rule's alternatives expanded to their first character classes.</summary>
    internal MatchState Initial => _initial ??= BuildInitial();

    private MatchState BuildInitial()
    {
        var set = new HashSet<StackNode?>();
        foreach (int start in Alternatives[Root])
        {
            Expand(start, null, set);
        }

        return new MatchState([.. set], 0, 0);
    }

    /// <summary>The state after one more output byte, or null when no stack can take it.</summary>
    /// <remarks>
    /// A code point begun but not finished is kept with a marker bit above its payload, so its encoded length is
    /// known from the bits and the remaining count: overlong forms and surrogates (bytes no valid UTF-8 text has,
    /// but byte-fallback tokens can spell) are refused, as is anything past U+10FFFF.
    /// </remarks>
    internal MatchState? Step(MatchState state, byte b)
    {
        if (state.PartialRemaining == 0)
        {
            if (b < 0x80)
            {
                return Advance(state.Stacks, b);
            }

            (int value, int remaining) = b switch
            {
                >= 0xC2 and <= 0xDF => ((1 << 5) | (b & 0x1F), 1),
                >= 0xE0 and <= 0xEF => ((1 << 4) | (b & 0x0F), 2),
                >= 0xF0 and <= 0xF4 => ((1 << 3) | (b & 0x07), 3),
                _ => (0, 0),
            };
            return remaining == 0 ? null : Partial(state.Stacks, value, remaining);
        }

        if ((b & 0xC0) != 0x80)
        {
            return null;
        }

        int next = (state.PartialValue << 6) | (b & 0x3F);
        int left = state.PartialRemaining - 1;
        if (left > 0)
        {
            return Partial(state.Stacks, next, left);
        }

        (int lo, int hi) = Span(next, 0);
        return lo > hi ? null : Advance(state.Stacks, lo);
    }

    // The code points a partial sequence can still become, with the bounds of its encoded length applied.
    private static (int Lo, int Hi) Span(int marked, int remaining)
    {
        int payloadBits = 31 - int.LeadingZeroCount(marked);
        int payload = marked & ((1 << payloadBits) - 1);
        int lo = payload << (6 * remaining);
        int hi = lo + (1 << (6 * remaining)) - 1;
        int min = (payloadBits + (6 * remaining)) switch
        {
            11 => 0x80,
            16 => 0x800,
            _ => 0x10000,
        };
        lo = Math.Max(lo, min);
        hi = Math.Min(hi, CharRanges.MaxCodePoint);
        if (lo >= 0xD800 && hi <= 0xDFFF)
        {
            return (1, 0);
        }

        return (lo, hi);
    }

    /// <summary>The state after a whole byte string, or null.</summary>
    internal MatchState? Step(MatchState state, ReadOnlySpan<byte> bytes)
    {
        MatchState? current = state;
        for (int i = 0; i < bytes.Length && current is not null; i++)
        {
            current = Step(current, bytes[i]);
        }

        return current;
    }

    private MatchState? Advance(StackNode?[] stacks, int codePoint)
    {
        HashSet<StackNode?>? set = null;
        foreach (StackNode? stack in stacks)
        {
            if (stack is null || !CharRanges.Contains(Classes[Args[stack.Position]], codePoint))
            {
                continue;
            }

            set ??= [];
            Expand(stack.Position + 1, stack.Next, set);
            if (set.Count > MaxStacks)
            {
                return null;
            }
        }

        return set is null ? null : new MatchState([.. set], 0, 0);
    }

    // Keeps the stacks whose next class holds some code point starting with the bytes seen so far.
    private MatchState? Partial(StackNode?[] stacks, int value, int remaining)
    {
        (int lo, int hi) = Span(value, remaining);
        if (lo > hi)
        {
            return null;
        }

        List<StackNode>? kept = null;
        foreach (StackNode? stack in stacks)
        {
            if (stack is not null && CharRanges.Intersects(Classes[Args[stack.Position]], lo, hi))
            {
                (kept ??= []).Add(stack);
            }
        }

        return kept is null ? null : new MatchState([.. kept], value, remaining);
    }

    // Expands a position into stacks whose top is a character class, descending into rules and popping ended ones.
    private void Expand(int position, StackNode? next, HashSet<StackNode?> output)
    {
        switch (Kinds[position])
        {
            case End:
                if (next is null)
                {
                    output.Add(null);
                }
                else if (Kinds[next.Position] == Char)
                {
                    output.Add(next);
                }
                else
                {
                    Expand(next.Position, next.Next, output);
                }

                break;
            case Ref:
                // A reference in tail position does not keep a frame, so right recursion (star rules) stays flat.
                StackNode? continuation = Kinds[position + 1] == End ? next : new StackNode(position + 1, next);
                foreach (int start in Alternatives[Args[position]])
                {
                    Expand(start, continuation, output);
                }

                break;
            default:
                output.Add(new StackNode(position, next));
                break;
        }
    }
}

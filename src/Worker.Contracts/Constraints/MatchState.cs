namespace Inference.Worker.Constraints;

/// <summary>
/// Where a constrained output stands: the live stacks (a null stack means the grammar has matched completely)
/// and the bytes of a code point begun but not finished (a token may end inside a UTF-8 sequence). Immutable;
/// equal states have equal masks, which is what the mask cache keys on.
/// </summary>
internal sealed class MatchState : IEquatable<MatchState>
{
    private readonly int _hash;

    public MatchState(StackNode?[] stacks, int partialValue, int partialRemaining)
    {
        Stacks = stacks;
        PartialValue = partialValue;
        PartialRemaining = partialRemaining;
        int hash = HashCode.Combine(partialValue, partialRemaining, stacks.Length);
        foreach (StackNode? stack in stacks)
        {
            // Order-independent: the same set reached in another order is the same state.
            hash += stack?.Hash * 31 ?? 7919;
        }

        _hash = hash;
        foreach (StackNode? stack in stacks)
        {
            if (stack is null)
            {
                CanEnd = partialRemaining == 0;
            }
        }

        IsComplete = CanEnd && stacks.Length == 1;
    }

    /// <summary>Distinct stacks; null is the empty stack (everything matched).</summary>
    public StackNode?[] Stacks { get; }

    public int PartialValue { get; }

    /// <summary>How many continuation bytes the code point begun still needs (0: none begun).</summary>
    public int PartialRemaining { get; }

    /// <summary>The output so far is a complete match (end of sequence is allowed here).</summary>
    public bool CanEnd { get; }

    /// <summary>The output is a complete match and nothing can follow it.</summary>
    public bool IsComplete { get; }

    public bool Equals(MatchState? other)
    {
        if (other is null || other._hash != _hash || other.PartialValue != PartialValue
            || other.PartialRemaining != PartialRemaining || other.Stacks.Length != Stacks.Length)
        {
            return false;
        }

        foreach (StackNode? stack in Stacks)
        {
            if (Array.IndexOf(other.Stacks, stack) < 0)
            {
                return false;
            }
        }

        return true;
    }

    public override bool Equals(object? obj) => obj is MatchState other && Equals(other);

    public override int GetHashCode() => _hash;
}

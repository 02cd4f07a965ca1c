namespace Inference.Worker.Constraints;

/// <summary>
/// One output's progress through a <see cref="TokenConstraint"/>: the allowed next tokens, and the state after
/// each sampled one. Owned by one sequence (not thread-safe); the masks it hands out are shared and read-only.
/// </summary>
public sealed class GrammarMatcher
{
    private readonly TokenConstraint _constraint;
    private MatchState _state;

    internal GrammarMatcher(TokenConstraint constraint, MatchState state)
    {
        _constraint = constraint;
        _state = state;
    }

    /// <summary>The output so far is a complete match and nothing may follow it: the sequence should stop.</summary>
    public bool IsComplete => _state.IsComplete;

    /// <summary>The output so far is a complete match (more may follow).</summary>
    public bool CanEnd => _state.CanEnd;

    /// <summary>The tokens allowed next (1 allowed), VocabSize wide; read-only and shared between matchers.</summary>
    public ReadOnlyMemory<byte> AllowedTokens() => _constraint.MaskFor(_state).Mask;

    /// <summary>The allowed tokens as <see cref="AllowedTokens()"/>, and whether end of sequence is the only one.</summary>
    public ReadOnlyMemory<byte> AllowedTokens(out bool onlyEnd)
    {
        (byte[] mask, onlyEnd) = _constraint.MaskFor(_state);
        return mask;
    }

    /// <summary>
    /// Advances over a sampled token; false (the state unchanged) when the grammar does not allow it, which the
    /// mask prevents (a caller that did not apply it sees the violation here). End of sequence is allowed when
    /// the output can end.
    /// </summary>
    public bool Accept(int token)
    {
        if (_constraint.IsEos(token))
        {
            return _state.CanEnd;
        }

        if (_constraint.IsSpecial(token))
        {
            return false;
        }

        byte[] bytes = _constraint.BytesOf(token);
        if (bytes.Length == 0)
        {
            return false;
        }

        MatchState? next = _constraint.Grammar.Step(_state, bytes);
        if (next is null)
        {
            return false;
        }

        _state = next;
        return true;
    }

    /// <summary>Advances over text (for tests and for forcing a known prefix); false when it does not match.</summary>
    public bool AcceptText(ReadOnlySpan<byte> utf8)
    {
        MatchState? next = _constraint.Grammar.Step(_state, utf8);
        if (next is null)
        {
            return false;
        }

        _state = next;
        return true;
    }
}

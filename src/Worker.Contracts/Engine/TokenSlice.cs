using System.Collections;

namespace Inference.Worker.Engine;

/// <summary>A read-only view of the tail of a token list (a sequence's output) without copying.</summary>
internal sealed class TokenSlice(IReadOnlyList<int> tokens, int start) : IReadOnlyList<int>
{
    public int Count => tokens.Count - start;

    public int this[int index] => tokens[start + index];

    public IEnumerator<int> GetEnumerator()
    {
        for (int i = start; i < tokens.Count; i++)
        {
            yield return tokens[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

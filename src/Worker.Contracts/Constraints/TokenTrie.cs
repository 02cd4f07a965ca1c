namespace Inference.Worker.Constraints;

/// <summary>
/// The vocabulary's token byte strings as a trie laid out in preorder, so a mask walk is one forward scan that
/// skips a whole subtree when its prefix is dead. Special and empty tokens are not in it (only end of sequence
/// may be allowed among the specials, and the constraint decides that separately). Immutable once built.
/// </summary>
internal sealed class TokenTrie
{
    private TokenTrie(byte[] labels, int[] depths, int[] subtreeEnds, int[] tokenOffsets, int[] tokens, int maxDepth)
    {
        Labels = labels;
        Depths = depths;
        SubtreeEnds = subtreeEnds;
        TokenOffsets = tokenOffsets;
        Tokens = tokens;
        MaxDepth = maxDepth;
    }

    /// <summary>The byte on the edge into each node.</summary>
    public byte[] Labels { get; }

    /// <summary>Each node's depth (1 for the root's children).</summary>
    public int[] Depths { get; }

    /// <summary>The index just past each node's subtree.</summary>
    public int[] SubtreeEnds { get; }

    /// <summary>Node i's tokens are Tokens[TokenOffsets[i]..TokenOffsets[i + 1]].</summary>
    public int[] TokenOffsets { get; }

    public int[] Tokens { get; }

    public int MaxDepth { get; }

    public int NodeCount => Labels.Length;

    /// <summary>Builds the trie of the tokens <paramref name="bytesOf"/> gives, leaving out those <paramref name="skip"/> names.</summary>
    public static TokenTrie Build(int vocabSize, Func<int, byte[]> bytesOf, Func<int, bool> skip)
    {
        var ids = new List<int>(vocabSize);
        var bytes = new byte[vocabSize][];
        for (int id = 0; id < vocabSize; id++)
        {
            bytes[id] = bytesOf(id);
            if (bytes[id].Length > 0 && !skip(id))
            {
                ids.Add(id);
            }
        }

        ids.Sort((a, b) =>
        {
            int c = bytes[a].AsSpan().SequenceCompareTo(bytes[b]);
            return c != 0 ? c : a.CompareTo(b);
        });

        var labels = new List<byte>();
        var depths = new List<int>();
        var ends = new List<int>();
        var offsets = new List<int>();
        var tokens = new List<int>(ids.Count);
        var path = new List<int>();
        byte[] previous = [];
        int maxDepth = 0;
        foreach (int id in ids)
        {
            byte[] current = bytes[id];
            int common = current.AsSpan().CommonPrefixLength(previous);
            while (path.Count > common)
            {
                ends[path[^1]] = labels.Count;
                path.RemoveAt(path.Count - 1);
            }

            for (int i = common; i < current.Length; i++)
            {
                path.Add(labels.Count);
                labels.Add(current[i]);
                depths.Add(i + 1);
                ends.Add(0);
                offsets.Add(tokens.Count);
            }

            maxDepth = Math.Max(maxDepth, current.Length);
            tokens.Add(id);
            previous = current;
        }

        foreach (int node in path)
        {
            ends[node] = labels.Count;
        }

        offsets.Add(tokens.Count);
        return new TokenTrie([.. labels], [.. depths], [.. ends], [.. offsets], [.. tokens], maxDepth);
    }
}

namespace Inference.Worker.Tokenization;

/// <summary>
/// Splits text on added/special tokens written literally (e.g. "&lt;|im_start|&gt;"), longest match
/// first, so a rendered chat prompt encodes its markers to their single ids.
/// </summary>
internal sealed class AddedTokenMatcher
{
    private readonly Dictionary<char, (string Content, int Id)[]> _byFirstChar;

    public AddedTokenMatcher(IEnumerable<KeyValuePair<string, int>> tokens)
    {
        var groups = new Dictionary<char, List<(string, int)>>();
        foreach (var (content, id) in tokens)
        {
            if (content.Length == 0)
            {
                continue;
            }

            if (!groups.TryGetValue(content[0], out var list))
            {
                list = [];
                groups[content[0]] = list;
            }

            list.Add((content, id));
        }

        _byFirstChar = new Dictionary<char, (string, int)[]>(groups.Count);
        foreach (var (first, list) in groups)
        {
            list.Sort(static (a, b) => b.Item1.Length.CompareTo(a.Item1.Length));
            _byFirstChar[first] = [.. list];
        }
    }

    /// <summary>Encodes <paramref name="text"/>: added tokens map to their ids, the runs between go to <paramref name="encoder"/>.</summary>
    public void Encode(string text, ISegmentEncoder encoder, List<int> output)
    {
        var segmentStart = 0;
        var i = 0;
        while (i < text.Length)
        {
            if (_byFirstChar.TryGetValue(text[i], out var candidates) && TryMatch(text, i, candidates, out var match))
            {
                if (i > segmentStart)
                {
                    encoder.EncodeSegment(text[segmentStart..i], output);
                }

                output.Add(match.Id);
                i += match.Content.Length;
                segmentStart = i;
            }
            else
            {
                i++;
            }
        }

        if (segmentStart < text.Length)
        {
            encoder.EncodeSegment(segmentStart == 0 ? text : text[segmentStart..], output);
        }
    }

    private static bool TryMatch(string text, int index, (string Content, int Id)[] candidates, out (string Content, int Id) match)
    {
        foreach (var candidate in candidates)
        {
            if (string.CompareOrdinal(text, index, candidate.Content, 0, candidate.Content.Length) == 0
                && index + candidate.Content.Length <= text.Length)
            {
                match = candidate;
                return true;
            }
        }

        match = default;
        return false;
    }
}

namespace Inference.Worker.Constraints;

/// <summary>Sorted, merged inclusive code point ranges flattened as [lo0, hi0, lo1, hi1, ...].</summary>
internal static class CharRanges
{
    public const int MaxCodePoint = 0x10FFFF;

    public static int[] Normalize(List<(int Lo, int Hi)> ranges, bool negated)
    {
        ranges.Sort((a, b) => a.Lo.CompareTo(b.Lo));
        var merged = new List<int>();
        foreach ((int lo, int hi) in ranges)
        {
            if (merged.Count > 0 && lo <= merged[^1] + 1)
            {
                merged[^1] = Math.Max(merged[^1], hi);
            }
            else
            {
                merged.Add(lo);
                merged.Add(hi);
            }
        }

        if (!negated)
        {
            return [.. merged];
        }

        var complement = new List<int>();
        int next = 0;
        for (int i = 0; i < merged.Count; i += 2)
        {
            if (merged[i] > next)
            {
                complement.Add(next);
                complement.Add(merged[i] - 1);
            }

            next = merged[i + 1] + 1;
        }

        if (next <= MaxCodePoint)
        {
            complement.Add(next);
            complement.Add(MaxCodePoint);
        }

        return [.. complement];
    }

    public static bool Contains(int[] ranges, int cp)
    {
        for (int i = 0; i < ranges.Length; i += 2)
        {
            if (cp < ranges[i])
            {
                return false;
            }

            if (cp <= ranges[i + 1])
            {
                return true;
            }
        }

        return false;
    }

    public static bool Intersects(int[] ranges, int lo, int hi)
    {
        for (int i = 0; i < ranges.Length; i += 2)
        {
            if (ranges[i] <= hi && ranges[i + 1] >= lo)
            {
                return true;
            }
        }

        return false;
    }
}

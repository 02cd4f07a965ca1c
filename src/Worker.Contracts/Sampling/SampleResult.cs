namespace Inference.Worker.Sampling;

/// <summary>
/// Host-side output of one sampling step, reused across steps (buffers grow, never shrink).
/// Row i's top alternatives are TopIds/TopLogprobs[i * TopN .. (i + 1) * TopN).
/// </summary>
public sealed class SampleResult
{
    public int Count { get; private set; }

    /// <summary>Alternatives per row in <see cref="TopIds"/> (the largest requested in the step).</summary>
    public int TopN { get; private set; }

    public int[] TokenIds { get; private set; } = [];

    /// <summary>Log-probability of each chosen token under the model's raw distribution (NaN when not requested).</summary>
    public float[] Logprobs { get; private set; } = [];

    public int[] TopIds { get; private set; } = [];

    public float[] TopLogprobs { get; private set; } = [];

    internal void Reset(int count, int topN)
    {
        Count = count;
        TopN = topN;
        if (TokenIds.Length < count)
        {
            TokenIds = new int[count];
            Logprobs = new float[count];
        }

        if (TopIds.Length < count * topN)
        {
            TopIds = new int[count * topN];
            TopLogprobs = new float[count * topN];
        }
    }
}

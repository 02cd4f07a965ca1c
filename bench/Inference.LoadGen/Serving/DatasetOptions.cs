namespace Inference.LoadGen.Serving;

/// <summary>Which prompts a run sends (vllm bench serve's dataset options).</summary>
public sealed record DatasetOptions
{
    /// <summary>random, shared-prefix or sharegpt.</summary>
    public string Name { get; init; } = "random";

    public int NumPrompts { get; init; } = 200;

    /// <summary>random / shared-prefix: prompt tokens (shared-prefix: the part after the shared prefix).</summary>
    public int InputLength { get; init; } = 128;

    /// <summary>random / shared-prefix: output tokens asked for (max_tokens).</summary>
    public int OutputLength { get; init; } = 64;

    /// <summary>Lengths are drawn uniformly from [len × (1 − r), len × (1 + r)]; 0: every request the same.</summary>
    public double RangeRatio { get; init; }

    /// <summary>shared-prefix: tokens of the prefix every request of a group shares.</summary>
    public int PrefixLength { get; init; } = 256;

    /// <summary>shared-prefix: how many distinct prefixes (groups).</summary>
    public int NumPrefixes { get; init; } = 4;

    /// <summary>sharegpt: the JSON file (ShareGPT's format: [{"conversations": [{"from": "human", "value": ...}, ...]}]).</summary>
    public string? Path { get; init; }

    /// <summary>sharegpt: max_tokens for every request instead of the dataset answer's length.</summary>
    public int? ShareGptOutputLength { get; init; }

    public int Seed { get; init; }
}

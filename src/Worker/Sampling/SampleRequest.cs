namespace Inference.Worker.Sampling;

/// <summary>
/// One row of a sampling step: its settings, the token history penalties look at, and the uniform
/// draw in [0, 1) this row samples with (from <see cref="SeededUniform"/> for seeded requests).
/// </summary>
public readonly record struct SampleRequest(
    SamplingParams Params,
    IReadOnlyList<int> PromptTokens,
    IReadOnlyList<int> OutputTokens,
    double Uniform);

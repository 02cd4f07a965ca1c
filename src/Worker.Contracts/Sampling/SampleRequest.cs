namespace Inference.Worker.Sampling;

/// <summary>
/// One row of a sampling step: its settings, the token history penalties look at, and the uniform
/// draw in [0, 1) this row samples with (from <see cref="SeededUniform"/> for seeded requests).
/// <see cref="BelowMinTokens"/> is true while the row's choice has generated fewer than
/// <see cref="SamplingParams.MinTokens"/> tokens: the sampler then gives the EOS and stop token ids
/// a logit of -inf. The caller decides it because only the caller knows the output length (rows
/// without penalties carry no history).
/// </summary>
public readonly record struct SampleRequest(
    SamplingParams Params,
    IReadOnlyList<int> PromptTokens,
    IReadOnlyList<int> OutputTokens,
    double Uniform,
    bool BelowMinTokens = false);

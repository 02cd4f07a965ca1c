namespace Inference.Worker.Runtime;

/// <summary>A sampled token with its logprob (NaN when not requested) and the top alternatives.</summary>
public readonly record struct GeneratedToken(int TokenId, float Logprob, TokenLogprob[] TopLogprobs);

/// <summary>One alternative token and its log-probability.</summary>
public readonly record struct TokenLogprob(int TokenId, float Logprob);

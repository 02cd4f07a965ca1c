namespace Inference.Worker.Tokenization;

/// <summary>An entry of tokenizer.json "added_tokens" or tokenizer_config.json "added_tokens_decoder".</summary>
internal sealed record AddedToken(int Id, string Content, bool Special);

namespace Inference.Client;

/// <summary>
/// Keys of <see cref="Microsoft.Extensions.AI.ChatOptions.AdditionalProperties"/> that <see cref="InferenceChatClient"/>
/// sends as the gateway's own parameters (those <see cref="Microsoft.Extensions.AI.ChatOptions"/> has no property for).
/// Any other key is refused with <see cref="ArgumentException"/>. Values may be the CLR type named or a
/// <see cref="System.Text.Json.JsonElement"/> of that shape; numbers of any numeric type are converted.
/// </summary>
public static class InferenceAdditionalProperties
{
    /// <summary><c>sampling.min_p</c> (float): drop tokens below this fraction of the top token's probability.</summary>
    public const string MinP = "min_p";

    /// <summary><c>sampling.repetition_penalty</c> (float, 1 = off): vLLM's penalty over prompt and output tokens.</summary>
    public const string RepetitionPenalty = "repetition_penalty";

    /// <summary><c>sampling.min_tokens</c> (int): EOS and stop token ids are masked until this many tokens.</summary>
    public const string MinTokens = "min_tokens";

    /// <summary><c>sampling.stop_token_ids</c> (a sequence of int).</summary>
    public const string StopTokenIds = "stop_token_ids";

    /// <summary><c>sampling.ignore_eos</c> (bool).</summary>
    public const string IgnoreEos = "ignore_eos";

    /// <summary><c>sampling.logit_bias</c> (a dictionary of token id to bias, int keys or their decimal strings).</summary>
    public const string LogitBias = "logit_bias";

    /// <summary><c>sampling.priority</c> (int): lower runs first within the caller's priority class.</summary>
    public const string Priority = "priority";

    /// <summary><c>sampling.user</c> (string): an end-user id for the usage records.</summary>
    public const string User = "user";

    /// <summary><c>sampling.skip_special_tokens</c> (bool).</summary>
    public const string SkipSpecialTokens = "skip_special_tokens";

    /// <summary><c>sampling.no_cache</c> (bool): bypass the gateway's response cache.</summary>
    public const string NoCache = "no_cache";

    /// <summary><c>add_generation_prompt</c> (bool): end the rendered prompt with the assistant turn's header (default true).</summary>
    public const string AddGenerationPrompt = "add_generation_prompt";

    /// <summary><c>response_format.regex</c> (string): the whole output matches this regular expression.</summary>
    public const string Regex = "regex";

    /// <summary><c>response_format.grammar</c> (string): a GBNF grammar whose start rule is root.</summary>
    public const string Grammar = "grammar";

    /// <summary><c>response_format.choice</c> (a sequence of string): the output is exactly one of these.</summary>
    public const string Choice = "choice";

    /// <summary><c>response_format.json_schema.strict</c> and every <c>tools[].strict</c> (bool).</summary>
    public const string Strict = "strict";
}

namespace Inference.LoadGen.Serving;

/// <summary>
/// What one request did, timed on the client from the moment it was sent: the first streamed token (TTFT), the gap
/// before every further streamed piece (ITL), the end of the stream (end-to-end latency). Output tokens are counted
/// twice, independently: pieces seen on the wire (a chunk with text, or a gRPC delta's token ids) and the server's
/// usage, when it reports one.
/// </summary>
public sealed class RequestOutcome
{
    /// <summary>Seconds from the run's start to the moment the request was sent.</summary>
    public double StartSeconds { get; set; }

    public bool Success { get; set; }

    /// <summary>Null on success; otherwise a short class: http_429, http_503, timeout, connection, stream_error, ...</summary>
    public string? ErrorKind { get; set; }

    public string? ErrorMessage { get; set; }

    /// <summary>The HTTP status of the response (0 over gRPC or when none came).</summary>
    public int HttpStatus { get; set; }

    /// <summary>The refusal carried a Retry-After header.</summary>
    public bool RetryAfter { get; set; }

    /// <summary>Seconds from send to the first piece with output; 0 when none came.</summary>
    public double Ttft { get; set; }

    /// <summary>Seconds between consecutive output pieces (one entry per piece after the first).</summary>
    public List<double> Itl { get; } = [];

    /// <summary>Seconds from send to the end of the response.</summary>
    public double Latency { get; set; }

    /// <summary>Output tokens seen on the wire (logprob entries, or one per chunk with text, over HTTP; token ids over gRPC).</summary>
    public int StreamedTokens { get; set; }

    /// <summary>completion_tokens of the server's usage; -1 when it sent none.</summary>
    public int UsageCompletionTokens { get; set; } = -1;

    /// <summary>prompt_tokens of the server's usage; -1 when it sent none.</summary>
    public int UsagePromptTokens { get; set; } = -1;

    /// <summary>Prompt length in the benchmark tokenizer's tokens (the dataset's count).</summary>
    public int PromptTokens { get; set; }

    /// <summary>Output tokens as vLLM counts them: the server's usage when given, else the pieces on the wire.</summary>
    public int OutputTokens => UsageCompletionTokens >= 0 ? UsageCompletionTokens : StreamedTokens;

    /// <summary>Prompt tokens: the server's usage when given, else the dataset's count.</summary>
    public int InputTokens => UsagePromptTokens >= 0 ? UsagePromptTokens : PromptTokens;

    /// <summary>Time per output token after the first, (latency − TTFT) / (output − 1); 0 for one-token answers.</summary>
    public double Tpot => OutputTokens > 1 ? (Latency - Ttft) / (OutputTokens - 1) : 0;

    /// <summary>The generated text (kept only when the run asks for it).</summary>
    public string? Text { get; set; }
}

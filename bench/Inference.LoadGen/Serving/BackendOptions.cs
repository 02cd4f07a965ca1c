namespace Inference.LoadGen.Serving;

/// <summary>Where and how requests go: the endpoint, the model id, sampling that every request shares.</summary>
public sealed record BackendOptions
{
    /// <summary>openai-completions (/v1/completions), openai-chat (/v1/chat/completions) or grpc (inference.v1 Complete).</summary>
    public string Backend { get; init; } = "openai-completions";

    /// <summary>Server base URL, e.g. http://127.0.0.1:8000 (for grpc the gRPC port, e.g. http://127.0.0.1:8001).</summary>
    public Uri BaseUrl { get; init; } = new("http://127.0.0.1:8000");

    /// <summary>Model id sent in every request.</summary>
    public required string Model { get; init; }

    /// <summary>Bearer key; null: none sent.</summary>
    public string? ApiKey { get; init; }

    public double Temperature { get; init; }

    /// <summary>Ask the server to keep generating past end-of-sequence, so every answer has max_tokens tokens.</summary>
    public bool IgnoreEos { get; init; } = true;

    /// <summary>Extra JSON object merged into every HTTP body (e.g. {"cache_prompt": false} for llama-server).</summary>
    public string? ExtraBody { get; init; }

    /// <summary>Ask for logprobs (no alternatives) and count the output tokens on the wire by their entries; off: one
    /// token per chunk with text (what vllm bench serve assumes).</summary>
    public bool CountTokensByLogprobs { get; init; } = true;

    /// <summary>Reuse connections between requests (HTTP keep-alive); off: a fresh connection per request (llama-server
    /// closes kept-alive connections under a client without saying so, and a request sent on one fails).</summary>
    public bool KeepAlive { get; init; } = true;

    /// <summary>Keep each answer's text in its outcome (tests, debugging); off for long runs.</summary>
    public bool KeepText { get; init; }

    /// <summary>A request still running after this is abandoned and counted as a timeout.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMinutes(10);

    public IServingBackend Create() => Backend switch
    {
        "openai-completions" or "openai-chat" => new OpenAIHttpBackend(this),
        "grpc" => new GrpcBackend(this),
        _ => throw new ArgumentException($"--backend {Backend} is not one of openai-completions, openai-chat, grpc"),
    };
}

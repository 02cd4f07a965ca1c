using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Inference.LoadGen.Serving;

/// <summary>
/// Streams /v1/completions or /v1/chat/completions from any OpenAI-compatible server (ours, vLLM, llama-server) with
/// stream_options.include_usage, timing every server-sent event that carries output text.
/// </summary>
internal sealed class OpenAIHttpBackend : IServingBackend
{
    private readonly BackendOptions _options;
    private readonly HttpClient _http;
    private readonly Uri _endpoint;
    private readonly bool _chat;
    private readonly JsonObject? _extra;

    public OpenAIHttpBackend(BackendOptions options)
    {
        _options = options;
        _chat = options.Backend == "openai-chat";
        _endpoint = new Uri(options.BaseUrl, _chat ? "v1/chat/completions" : "v1/completions");
        _extra = options.ExtraBody is null ? null : JsonNode.Parse(options.ExtraBody) as JsonObject
            ?? throw new ArgumentException("--extra-body must be a JSON object");
        _http = new HttpClient(new SocketsHttpHandler
        {
            // A connection per concurrent stream, as independent clients would open.
            MaxConnectionsPerServer = int.MaxValue,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            ConnectTimeout = TimeSpan.FromSeconds(10),
            AutomaticDecompression = DecompressionMethods.None,
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    public string Name => _options.Backend;

    public async Task<RequestOutcome> SendAsync(BenchRequest request, CancellationToken cancellationToken)
    {
        var outcome = new RequestOutcome { PromptTokens = request.PromptTokens };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.RequestTimeout);
        using var message = new HttpRequestMessage(HttpMethod.Post, _endpoint)
        {
            Content = new ByteArrayContent(Body(request)) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
        };
        if (!_options.KeepAlive)
        {
            message.Headers.ConnectionClose = true;
        }

        if ((request.ApiKey ?? _options.ApiKey) is { } key)
        {
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        StringBuilder? text = _options.KeepText ? new StringBuilder() : null;
        long sent = Stopwatch.GetTimestamp();
        long last = 0;
        try
        {
            using HttpResponseMessage response = await _http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            outcome.HttpStatus = (int)response.StatusCode;
            if (!response.IsSuccessStatusCode)
            {
                outcome.RetryAfter = response.Headers.RetryAfter is not null;
                string body = await response.Content.ReadAsStringAsync(timeout.Token);
                outcome.ErrorKind = $"http_{(int)response.StatusCode}";
                outcome.ErrorMessage = body.Length > 300 ? body[..300] : body;
                outcome.Latency = Stopwatch.GetElapsedTime(sent).TotalSeconds;
                return outcome;
            }

            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(timeout.Token), Encoding.UTF8);
            while (await reader.ReadLineAsync(timeout.Token) is { } line)
            {
                if (!line.StartsWith("data:", StringComparison.Ordinal))
                {
                    continue; // blank separators, comments, event: lines
                }

                ReadOnlySpan<char> data = line.AsSpan(5).Trim();
                if (data.SequenceEqual("[DONE]"))
                {
                    break;
                }

                using JsonDocument chunk = JsonDocument.Parse(data.ToString());
                JsonElement root = chunk.RootElement;
                if (root.TryGetProperty("error", out JsonElement error))
                {
                    outcome.ErrorKind = "stream_error";
                    outcome.ErrorMessage = error.ToString();
                    break;
                }

                (string? piece, int tokens) = Piece(root);
                if (!string.IsNullOrEmpty(piece) || tokens > 0)
                {
                    long now = Stopwatch.GetTimestamp();
                    if (outcome.StreamedTokens == 0)
                    {
                        outcome.Ttft = Stopwatch.GetElapsedTime(sent, now).TotalSeconds;
                    }
                    else
                    {
                        outcome.Itl.Add(Stopwatch.GetElapsedTime(last, now).TotalSeconds);
                    }

                    last = now;
                    outcome.StreamedTokens += tokens > 0 ? tokens : 1;
                    text?.Append(piece);
                }

                if (root.TryGetProperty("usage", out JsonElement usage) && usage.ValueKind == JsonValueKind.Object)
                {
                    if (usage.TryGetProperty("completion_tokens", out JsonElement completion) && completion.TryGetInt32(out int c))
                    {
                        outcome.UsageCompletionTokens = c;
                    }

                    if (usage.TryGetProperty("prompt_tokens", out JsonElement prompt) && prompt.TryGetInt32(out int p))
                    {
                        outcome.UsagePromptTokens = p;
                    }
                }
            }

            outcome.Latency = Stopwatch.GetElapsedTime(sent).TotalSeconds;
            outcome.Success = outcome.ErrorKind is null;
            if (outcome.Success && outcome.StreamedTokens == 0 && outcome.UsageCompletionTokens != 0)
            {
                outcome.Success = false;
                outcome.ErrorKind = "empty_stream";
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            outcome.ErrorKind = "timeout";
            outcome.ErrorMessage = $"no end of stream within {_options.RequestTimeout.TotalSeconds:0} s";
        }
        catch (HttpRequestException ex)
        {
            outcome.ErrorKind = "connection";
            outcome.ErrorMessage = ex.InnerException is { } inner ? $"{ex.Message} ({inner.Message})" : ex.Message;
        }
        catch (IOException ex)
        {
            outcome.ErrorKind = "connection";
            outcome.ErrorMessage = ex.Message;
        }
        catch (JsonException ex)
        {
            outcome.ErrorKind = "bad_json";
            outcome.ErrorMessage = ex.Message;
        }

        if (!outcome.Success && outcome.Latency == 0)
        {
            outcome.Latency = Stopwatch.GetElapsedTime(sent).TotalSeconds;
        }

        outcome.Text = text?.ToString();
        return outcome;
    }

    /// <summary>The chunk's output text and, when logprobs were asked for, how many tokens it carries (0: unknown).</summary>
    private (string? Text, int Tokens) Piece(JsonElement root)
    {
        if (!root.TryGetProperty("choices", out JsonElement choices) || choices.ValueKind != JsonValueKind.Array || choices.GetArrayLength() == 0)
        {
            return (null, 0);
        }

        JsonElement choice = choices[0];
        int tokens = 0;
        if (choice.TryGetProperty("logprobs", out JsonElement logprobs) && logprobs.ValueKind == JsonValueKind.Object)
        {
            // Completions: logprobs.tokens; chat: logprobs.content — one entry per generated token.
            if ((logprobs.TryGetProperty(_chat ? "content" : "tokens", out JsonElement list)) && list.ValueKind == JsonValueKind.Array)
            {
                tokens = list.GetArrayLength();
            }
        }

        if (!_chat)
        {
            return (choice.TryGetProperty("text", out JsonElement text) && text.ValueKind == JsonValueKind.String ? text.GetString() : null, tokens);
        }

        if (!choice.TryGetProperty("delta", out JsonElement delta))
        {
            return (null, tokens);
        }

        // Reasoning models stream their thinking apart from the content; both are output tokens.
        foreach (string name in (ReadOnlySpan<string>)["content", "reasoning_content", "reasoning"])
        {
            if (delta.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } s)
            {
                return (s, tokens);
            }
        }

        return (null, tokens);
    }

    private byte[] Body(BenchRequest request)
    {
        var body = new JsonObject
        {
            ["model"] = _options.Model,
            ["max_tokens"] = request.MaxTokens,
            ["temperature"] = _options.Temperature,
            ["stream"] = true,
            ["stream_options"] = new JsonObject { ["include_usage"] = true },
        };
        if (_options.IgnoreEos)
        {
            body["ignore_eos"] = true;
        }

        if (_options.CountTokensByLogprobs)
        {
            // One logprob entry per generated token: an exact count on the wire, independent of the usage, even
            // when a server merges tokens into one chunk (a token ending inside a UTF-8 character adds no text).
            if (_chat)
            {
                body["logprobs"] = true;
                body["top_logprobs"] = 0;
            }
            else
            {
                body["logprobs"] = 0;
            }
        }

        if (_chat)
        {
            var messages = new JsonArray();
            if (request.SystemPrompt is { } system)
            {
                messages.Add(new JsonObject { ["role"] = "system", ["content"] = system });
            }

            messages.Add(new JsonObject { ["role"] = "user", ["content"] = request.Prompt });
            body["messages"] = messages;
        }
        else
        {
            body["prompt"] = request.SystemPrompt is null ? request.Prompt : request.SystemPrompt + request.Prompt;
        }

        if (_extra is not null)
        {
            foreach ((string name, JsonNode? value) in _extra)
            {
                body[name] = value?.DeepClone();
            }
        }

        return JsonSerializer.SerializeToUtf8Bytes(body);
    }

    public void Dispose() => _http.Dispose();
}

using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Proto = Inference.Gateway.Grpc;

namespace Inference.Client.Mapping;

/// <summary>
/// <see cref="ChatMessage"/>s and <see cref="ChatOptions"/> as one <c>inference.v1.ChatRequest</c>. Nothing is dropped
/// on the way: what the proto cannot carry is refused here, naming the option; ranges are the server's to check.
/// </summary>
internal static class ChatRequestMapper
{
    public static Proto.ChatRequest ToRequest(IEnumerable<ChatMessage> messages, ChatOptions? options, string? defaultModelId)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var request = new Proto.ChatRequest
        {
            Model = options?.ModelId ?? defaultModelId ?? string.Empty,
            Sampling = new Proto.SamplingOptions { N = 1 },
        };
        if (!string.IsNullOrEmpty(options?.Instructions))
        {
            request.Messages.Add(new Proto.ChatMessage { Role = "system", Content = options.Instructions });
        }

        foreach (ChatMessage message in messages)
        {
            AddMessage(request, message);
        }

        if (options is not null)
        {
            RefuseUnsupported(options);
            MapSampling(request.Sampling, options);
            MapTools(request, options);
            MapResponseFormat(request, options.ResponseFormat);
            if (options.AdditionalProperties is { Count: > 0 } extras)
            {
                AdditionalOptions.Apply(request, extras);
            }
        }

        return request;
    }

    /// <summary>One message, or several: each <see cref="FunctionResultContent"/> is a tool message of its own.</summary>
    private static void AddMessage(Proto.ChatRequest request, ChatMessage message)
    {
        var text = new StringBuilder();
        var proto = new Proto.ChatMessage { Role = message.Role.Value, Name = message.AuthorName ?? string.Empty };
        var results = new List<Proto.ChatMessage>();
        foreach (AIContent content in message.Contents)
        {
            switch (content)
            {
                case TextContent t:
                    text.Append(t.Text);
                    break;
                case FunctionCallContent call:
                    proto.ToolCalls.Add(new Proto.ToolCall
                    {
                        Id = call.CallId,
                        Name = call.Name,
                        Arguments = call.Arguments is null ? "{}" : JsonSerializer.Serialize(call.Arguments, AIJsonUtilities.DefaultOptions.GetTypeInfo(typeof(IDictionary<string, object?>))),
                    });
                    break;
                case FunctionResultContent result:
                    results.Add(new Proto.ChatMessage { Role = "tool", ToolCallId = result.CallId, Content = ResultText(result) });
                    break;
                case UsageContent or TextReasoningContent:
                    break; // a previous answer's bookkeeping, or reasoning the server never produces: not part of the prompt
                default:
                    throw new NotSupportedException(
                        $"{content.GetType().Name} in a {message.Role} message is not supported by the inference gateway (text, function calls and function results are).");
            }
        }

        proto.Content = text.ToString();
        if (proto.Content.Length > 0 || proto.ToolCalls.Count > 0 || results.Count == 0)
        {
            request.Messages.Add(proto);
        }

        request.Messages.Add(results);
    }

    private static string ResultText(FunctionResultContent result) => result.Result switch
    {
        null => string.Empty,
        string s => s,
        JsonElement { ValueKind: JsonValueKind.String } e => e.GetString()!,
        object value => JsonSerializer.Serialize(value, AIJsonUtilities.DefaultOptions.GetTypeInfo(value.GetType())),
    };

    private static void RefuseUnsupported(ChatOptions options)
    {
        string? option =
            options.ConversationId is not null ? nameof(ChatOptions.ConversationId)
            : options.ContinuationToken is not null ? nameof(ChatOptions.ContinuationToken)
            : options.AllowBackgroundResponses == true ? nameof(ChatOptions.AllowBackgroundResponses)
            : options.Reasoning is not null ? nameof(ChatOptions.Reasoning)
            : options.RawRepresentationFactory is not null ? nameof(ChatOptions.RawRepresentationFactory)
            : null;
        if (option is not null)
        {
            throw new NotSupportedException($"ChatOptions.{option} is not supported by the inference gateway (it keeps no conversation state and has no reasoning or background mode).");
        }
    }

    private static void MapSampling(Proto.SamplingOptions sampling, ChatOptions options)
    {
        if (options.MaxOutputTokens is { } max)
        {
            sampling.MaxTokens = max;
        }

        if (options.Temperature is { } temperature)
        {
            sampling.Temperature = temperature;
        }

        if (options.TopP is { } topP)
        {
            sampling.TopP = topP;
        }

        if (options.TopK is { } topK)
        {
            sampling.TopK = topK;
        }

        if (options.FrequencyPenalty is { } frequency)
        {
            sampling.FrequencyPenalty = frequency;
        }

        if (options.PresencePenalty is { } presence)
        {
            sampling.PresencePenalty = presence;
        }

        if (options.Seed is { } seed)
        {
            sampling.Seed = seed;
        }

        if (options.StopSequences is { } stop)
        {
            sampling.Stop.Add(stop);
        }
    }

    private static void MapTools(Proto.ChatRequest request, ChatOptions options)
    {
        if (options.Tools is { } tools)
        {
            foreach (AITool tool in tools)
            {
                if (tool is not AIFunctionDeclaration function)
                {
                    throw new NotSupportedException($"Tool '{tool.Name}' ({tool.GetType().Name}) is not supported by the inference gateway: only functions (AIFunctionDeclaration) are.");
                }

                request.Tools.Add(new Proto.Tool
                {
                    Name = function.Name,
                    Description = function.Description ?? string.Empty,
                    Parameters = function.JsonSchema.ValueKind == JsonValueKind.Undefined ? string.Empty : function.JsonSchema.GetRawText(),
                });
            }
        }

        switch (options.ToolMode)
        {
            case null:
                break; // the server's default: auto when tools are given, none otherwise
            case NoneChatToolMode:
                request.ToolChoice = new Proto.ToolChoice { Mode = "none" };
                break;
            case AutoChatToolMode:
                request.ToolChoice = new Proto.ToolChoice { Mode = "auto" };
                break;
            case RequiredChatToolMode { RequiredFunctionName: null }:
                request.ToolChoice = new Proto.ToolChoice { Mode = "required" };
                break;
            case RequiredChatToolMode { RequiredFunctionName: { } name }:
                request.ToolChoice = new Proto.ToolChoice { Function = name };
                break;
            default:
                throw new NotSupportedException($"ChatOptions.ToolMode {options.ToolMode.GetType().Name} is not supported by the inference gateway.");
        }

        if (options.AllowMultipleToolCalls is { } parallel)
        {
            request.ParallelToolCalls = parallel;
        }
    }

    private static void MapResponseFormat(Proto.ChatRequest request, ChatResponseFormat? format)
    {
        switch (format)
        {
            case null or ChatResponseFormatText:
                break; // plain text is what the server does anyway
            case ChatResponseFormatJson { Schema: null }:
                request.ResponseFormat = new Proto.ResponseFormat { JsonObject = new Proto.JsonObjectFormat() };
                break;
            case ChatResponseFormatJson { Schema: { } schema } json:
                request.ResponseFormat = new Proto.ResponseFormat
                {
                    JsonSchema = new Proto.JsonSchemaFormat
                    {
                        // OpenAI requires a name; M.E.AI's schema helpers may leave it unset.
                        Name = json.SchemaName ?? "response",
                        Description = json.SchemaDescription ?? string.Empty,
                        Schema = schema.GetRawText(),
                    },
                };
                break;
            default:
                throw new NotSupportedException($"ChatOptions.ResponseFormat {format.GetType().Name} is not supported by the inference gateway.");
        }
    }
}

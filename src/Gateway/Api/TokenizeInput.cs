using Inference.Worker.Tokenization;

namespace Inference.Gateway.Api;

/// <summary>A validated /tokenize request: a prompt (Messages null) or a conversation for the chat template.</summary>
public sealed record TokenizeInput(
    string Model, string Text, IReadOnlyList<ChatMessage>? Messages, bool AddSpecialTokens, bool AddGenerationPrompt);

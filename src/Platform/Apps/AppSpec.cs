namespace Inference.Platform.Apps;

/// <summary>
/// What an app is: its title, prompts with <c>{{variables}}</c>, model (or alias) and sampling, form fields and
/// few-shot examples. A draft is edited in the builder; a release freezes one.
/// </summary>
/// <param name="Template">The ready template it started from ("tutor", "faq", "summarizer", "task_analysis", "blank").</param>
/// <param name="Model">The served model or alias; empty for the first model the gateway serves.</param>
public sealed record AppSpec(
    string Template,
    string Title,
    string Description,
    string SystemPrompt,
    string Prompt,
    string Model,
    double Temperature,
    double TopP,
    int MaxTokens,
    IReadOnlyList<AppField> Fields,
    IReadOnlyList<AppExample> Examples);

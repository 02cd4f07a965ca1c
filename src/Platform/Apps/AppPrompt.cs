using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Inference.Platform.Api;

namespace Inference.Platform.Apps;

/// <summary>
/// The one place an app's spec is checked and turned into a chat request: <c>{{name}}</c> is replaced by the form's
/// value for the field <c>name</c> (plain text, never evaluated; a value's own braces stay as they are).
/// </summary>
public static partial class AppPrompt
{
    public const int MaxPromptChars = 8_000;
    public const int MaxValueChars = 8_000;
    public const int MaxFields = 20;
    public const int MaxExamples = 10;
    public const int MaxOptions = 20;
    public const int MaxTokensLimit = 4_096;

    [GeneratedRegex(@"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")]
    private static partial Regex Variable();

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,31}$")]
    private static partial Regex FieldName();

    /// <summary>The variables a text uses, in order of first use.</summary>
    public static IReadOnlyList<string> VariablesOf(string text) =>
        Variable().Matches(text).Select(m => m.Groups[1].Value).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>A spec read from JSON with what it left out filled in (empty texts and lists, the blank template's sampling).</summary>
    public static AppSpec Normalize(AppSpec spec)
    {
        AppSpec blank = AppTemplates.Find("blank")!;
        return spec with
        {
            Template = spec.Template ?? "blank",
            Title = spec.Title ?? "",
            Description = spec.Description ?? "",
            SystemPrompt = spec.SystemPrompt ?? "",
            Prompt = spec.Prompt ?? "",
            Model = spec.Model ?? "",
            TopP = spec.TopP == 0 ? blank.TopP : spec.TopP,
            MaxTokens = spec.MaxTokens == 0 ? blank.MaxTokens : spec.MaxTokens,
            Fields = (spec.Fields ?? []).Select(f => f with { Name = f.Name ?? "", Label = f.Label ?? "" }).ToList(),
            Examples = (spec.Examples ?? []).Select(e => e with { User = e.User ?? "", Assistant = e.Assistant ?? "" }).ToList(),
        };
    }

    /// <summary>Throws a 400 naming the first field at fault (<c>fields[1].name</c>, <c>prompt</c>, ...).</summary>
    public static void Validate(AppSpec spec)
    {
        Length(spec.Title, "title", 1, 100);
        Length(spec.Description, "description", 0, 500);
        Length(spec.SystemPrompt, "system_prompt", 0, MaxPromptChars);
        Length(spec.Prompt, "prompt", 1, MaxPromptChars);
        Length(spec.Model, "model", 0, 200);
        if (!(spec.Temperature is >= 0 and <= 2))
        {
            throw PlatformException.Invalid("temperature", "temperature must be between 0 and 2.");
        }

        if (!(spec.TopP is > 0 and <= 1))
        {
            throw PlatformException.Invalid("top_p", "top_p must be greater than 0 and at most 1.");
        }

        if (spec.MaxTokens is < 1 or > MaxTokensLimit)
        {
            throw PlatformException.Invalid("max_tokens", $"max_tokens must be between 1 and {MaxTokensLimit}.");
        }

        if (spec.Fields.Count > MaxFields)
        {
            throw PlatformException.Invalid("fields", $"An app has at most {MaxFields} fields.");
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < spec.Fields.Count; i++)
        {
            AppField field = spec.Fields[i];
            if (!FieldName().IsMatch(field.Name ?? ""))
            {
                throw PlatformException.Invalid($"fields[{i}].name", $"Field name '{field.Name}' must be 1 to 32 lowercase letters, digits or _, starting with a letter or _.");
            }

            if (!names.Add(field.Name!))
            {
                throw PlatformException.Invalid($"fields[{i}].name", $"Two fields are named '{field.Name}'.");
            }

            Length(field.Label, $"fields[{i}].label", 1, 100);
            if (field.Kind == AppFieldKind.Choice)
            {
                if (field.Options is not { Count: > 0 and <= MaxOptions })
                {
                    throw PlatformException.Invalid($"fields[{i}].options", $"A choice field needs 1 to {MaxOptions} options.");
                }

                for (int j = 0; j < field.Options.Count; j++)
                {
                    Length(field.Options[j], $"fields[{i}].options[{j}]", 1, 100);
                }
            }
        }

        foreach ((string text, string where) in new[] { (spec.SystemPrompt, "system_prompt"), (spec.Prompt, "prompt") })
        {
            foreach (string variable in VariablesOf(text))
            {
                if (!names.Contains(variable))
                {
                    throw PlatformException.Invalid(where, $"{{{{{variable}}}}} is used in {where} but no field is named '{variable}'.");
                }
            }
        }

        if (spec.Examples.Count > MaxExamples)
        {
            throw PlatformException.Invalid("examples", $"An app has at most {MaxExamples} examples.");
        }

        for (int i = 0; i < spec.Examples.Count; i++)
        {
            Length(spec.Examples[i].User, $"examples[{i}].user", 1, MaxPromptChars);
            Length(spec.Examples[i].Assistant, $"examples[{i}].assistant", 1, MaxPromptChars);
        }
    }

    /// <summary>
    /// Checks the form's values against the fields (required, length, choices; no unknown names) and returns them
    /// with every field present (an optional one left out is empty).
    /// </summary>
    public static IReadOnlyDictionary<string, string> CheckInputs(AppSpec spec, IReadOnlyDictionary<string, string?> inputs)
    {
        foreach (string name in inputs.Keys)
        {
            if (!spec.Fields.Any(f => f.Name == name))
            {
                throw PlatformException.Invalid($"inputs.{name}", $"This app has no field '{name}'.");
            }
        }

        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (AppField field in spec.Fields)
        {
            string value = (inputs.GetValueOrDefault(field.Name) ?? "").Trim();
            if (value.Length == 0 && field.Required)
            {
                throw PlatformException.Invalid($"inputs.{field.Name}", $"'{field.Label}' is required.");
            }

            if (value.Length > MaxValueChars || (field.Kind == AppFieldKind.Text && value.Length > 1_000))
            {
                throw PlatformException.Invalid($"inputs.{field.Name}", $"'{field.Label}' is too long.");
            }

            if (field.Kind == AppFieldKind.Choice && value.Length > 0 && field.Options?.Contains(value, StringComparer.Ordinal) != true)
            {
                throw PlatformException.Invalid($"inputs.{field.Name}", $"'{field.Label}' must be one of: {string.Join(", ", field.Options ?? [])}.");
            }

            values[field.Name] = value;
        }

        return values;
    }

    /// <summary>The text with each <c>{{name}}</c> replaced by its value (one pass: values are never expanded again).</summary>
    public static string Fill(string text, IReadOnlyDictionary<string, string> values) =>
        Variable().Replace(text, m => values.TryGetValue(m.Groups[1].Value, out string? v) ? v : m.Value);

    /// <summary>The OpenAI chat completion body for one run: system prompt, examples, the filled prompt, the app's sampling.</summary>
    public static byte[] ChatBody(AppSpec spec, IReadOnlyDictionary<string, string> values, string model, bool stream)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("model", model);
            w.WriteStartArray("messages");
            string system = Fill(spec.SystemPrompt, values).Trim();
            if (system.Length > 0)
            {
                Message(w, "system", system);
            }

            foreach (AppExample example in spec.Examples)
            {
                Message(w, "user", example.User);
                Message(w, "assistant", example.Assistant);
            }

            Message(w, "user", Fill(spec.Prompt, values));
            w.WriteEndArray();
            w.WriteNumber("temperature", spec.Temperature);
            w.WriteNumber("top_p", spec.TopP);
            w.WriteNumber("max_tokens", spec.MaxTokens);
            w.WriteBoolean("stream", stream);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>One chat message object of an OpenAI body (the playground's body uses it too).</summary>
    internal static void Message(Utf8JsonWriter w, string role, string content)
    {
        w.WriteStartObject();
        w.WriteString("role", role);
        w.WriteString("content", content);
        w.WriteEndObject();
    }

    private static void Length(string? value, string field, int min, int max)
    {
        int length = value?.Length ?? 0;
        if (length < min || length > max)
        {
            throw PlatformException.Invalid(field, min == 0 ? $"{field} must have at most {max} characters." : $"{field} must have {min} to {max} characters.");
        }
    }

    /// <summary>A URL-safe slug from a name (ASCII letters and digits); empty when the name has none (a Korean name).</summary>
    public static string SlugOf(string name)
    {
        var sb = new StringBuilder();
        foreach (char c in name.ToLowerInvariant())
        {
            if (c is >= 'a' and <= 'z' or >= '0' and <= '9')
            {
                sb.Append(c);
            }
            else if (sb.Length > 0 && sb[^1] != '-')
            {
                sb.Append('-');
            }

            if (sb.Length >= 40)
            {
                break;
            }
        }

        return sb.ToString().Trim('-');
    }
}

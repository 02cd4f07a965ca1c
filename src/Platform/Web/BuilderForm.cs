using System.Globalization;
using Inference.Platform.Api;
using Inference.Platform.Apps;
using Microsoft.AspNetCore.Http;

namespace Inference.Platform.Web;

/// <summary>
/// The builder's form as an <see cref="AppSpec"/> (the save, preview and no-script preview all read it here). Rows
/// of fields and examples left empty are dropped; the spec is then checked by <see cref="AppPrompt.Validate"/>.
/// </summary>
public static class BuilderForm
{
    /// <summary>Empty rows the builder offers below the existing fields and examples.</summary>
    public const int SpareRows = 2;

    /// <summary>The form as a spec, checked (a 400 naming the field).</summary>
    public static AppSpec Parse(IFormCollection form)
    {
        AppSpec spec = Read(form);
        AppPrompt.Validate(spec);
        return spec;
    }

    /// <summary>The form as a spec, not yet checked (what a refused save shows again, so nothing typed is lost).</summary>
    public static AppSpec Read(IFormCollection form)
    {
        var fields = new List<AppField>();
        for (int i = 0; i < AppPrompt.MaxFields + SpareRows; i++)
        {
            string name = Text(form, $"fields[{i}].name");
            string label = Text(form, $"fields[{i}].label");
            if (name.Length == 0 && label.Length == 0)
            {
                continue;
            }

            AppFieldKind kind = Text(form, $"fields[{i}].kind") switch
            {
                "text" => AppFieldKind.Text,
                "long_text" => AppFieldKind.LongText,
                "choice" => AppFieldKind.Choice,
                var other => throw PlatformException.Invalid($"fields[{i}].kind", $"'{other}' is not a field kind; use text, long_text or choice."),
            };
            IReadOnlyList<string>? options = kind == AppFieldKind.Choice
                ? Text(form, $"fields[{i}].options").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                : null;
            fields.Add(new AppField(name, label, kind, options, form[$"fields[{i}].required"].Count > 0));
        }

        var examples = new List<AppExample>();
        for (int i = 0; i < AppPrompt.MaxExamples + SpareRows; i++)
        {
            string user = Text(form, $"examples[{i}].user");
            string assistant = Text(form, $"examples[{i}].assistant");
            if (user.Length > 0 || assistant.Length > 0)
            {
                examples.Add(new AppExample(user, assistant));
            }
        }

        return new AppSpec(
            Text(form, "template"), Text(form, "title"), Text(form, "description"), Text(form, "system_prompt"), Text(form, "prompt"), Text(form, "model"),
            Number(form, "temperature", 0.7), Number(form, "top_p", 1.0), (int)Number(form, "max_tokens", 128), fields, examples);
    }

    /// <summary>The values of the inputs named <c>in.{field}</c> (the preview's and the hosted page's form).</summary>
    public static Dictionary<string, string?> Inputs(IFormCollection form)
    {
        var inputs = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var (key, value) in form)
        {
            if (key.StartsWith("in.", StringComparison.Ordinal))
            {
                inputs[key[3..]] = value.ToString();
            }
        }

        return inputs;
    }

    private static string Text(IFormCollection form, string name) => form[name].ToString().Replace("\r\n", "\n", StringComparison.Ordinal).Trim();

    private static double Number(IFormCollection form, string name, double fallback)
    {
        string text = Text(form, name);
        if (text.Length == 0)
        {
            return fallback;
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
            ? value
            : throw PlatformException.Invalid(name, $"{name} must be a number.");
    }
}

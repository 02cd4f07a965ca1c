using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Inference.Gateway.Api;
using Inference.Platform.Apps;
using Microsoft.AspNetCore.Http;

namespace Inference.Platform.Web;

/// <summary>The playground's form as an OpenAI chat body: model, system prompt, the conversation so far, the new message, sampling.</summary>
public static class Playground
{
    public const int MaxHistory = 40;

    public static byte[] Body(IFormCollection form, bool stream)
    {
        string model = form["model"].ToString().Trim();
        if (model.Length == 0)
        {
            throw ApiException.Missing("model");
        }

        string message = form["message"].ToString().Trim();
        if (message.Length == 0)
        {
            throw ApiException.Missing("message");
        }

        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("model", model);
            w.WriteStartArray("messages");
            string system = form["system"].ToString().Trim();
            if (system.Length > 0)
            {
                AppPrompt.Message(w, "system", system);
            }

            foreach ((string role, string content) in History(form["history"].ToString()))
            {
                AppPrompt.Message(w, role, content);
            }

            AppPrompt.Message(w, "user", message);
            w.WriteEndArray();
            Number(w, form, "temperature");
            Number(w, form, "top_p");
            Number(w, form, "max_tokens");
            w.WriteBoolean("stream", stream);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static IEnumerable<(string Role, string Content)> History(string json)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            yield break;
        }

        List<Turn>? turns;
        try
        {
            turns = JsonSerializer.Deserialize<List<Turn>>(json, JsonSerializerOptions.Web);
        }
        catch (JsonException)
        {
            throw ApiException.Invalid("history", "history must be a JSON list of {\"role\", \"content\"} turns.");
        }

        if (turns is { Count: > MaxHistory })
        {
            throw ApiException.Invalid("history", $"The playground keeps at most {MaxHistory} turns; start a new chat.");
        }

        foreach (Turn t in turns ?? [])
        {
            if (t.Role is not ("user" or "assistant") || t.Content is null)
            {
                throw ApiException.Invalid("history", "Each turn needs role user or assistant and a content.");
            }

            yield return (t.Role, t.Content);
        }
    }

    private static void Number(Utf8JsonWriter w, IFormCollection form, string name)
    {
        string text = form[name].ToString().Trim();
        if (text.Length == 0)
        {
            return;
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
        {
            throw ApiException.Invalid(name, $"{name} must be a number.");
        }

        if (name == "max_tokens")
        {
            w.WriteNumber(name, (long)value);
        }
        else
        {
            w.WriteNumber(name, value);
        }
    }

    /// <summary>A turn as the page's script sends it: {"role", "content"}.</summary>
    private sealed record Turn(string? Role, string? Content);
}

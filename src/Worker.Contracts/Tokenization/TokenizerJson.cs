using System.Text.Json;
using Inference.Worker.Loading;

namespace Inference.Worker.Tokenization;

/// <summary>Reading helpers for the JSON side files (tokenizer_config.json, generation_config.json, config.json).</summary>
internal static class TokenizerJson
{
    public static JsonDocument? TryOpen(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            return JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException ex)
        {
            throw new ModelLoadException(path, null, $"not valid JSON: {ex.Message}", ex);
        }
        catch (IOException ex)
        {
            throw new ModelLoadException(path, null, $"cannot be read: {ex.Message}", ex);
        }
    }

    /// <summary>A token given as a string or as {"content": ...}; null when absent or JSON null.</summary>
    public static string? ReadTokenText(JsonElement? root, string field, string file)
    {
        if (root is not { } r || !r.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.String)
        {
            return value.GetString();
        }

        if (value.ValueKind == JsonValueKind.Object && value.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String)
        {
            return content.GetString();
        }

        throw new ModelLoadException(file, field, "expected a string or an object with a string \"content\"");
    }

    public static bool? ReadBool(JsonElement? root, string field, string file)
    {
        if (root is not { } r || !r.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new ModelLoadException(file, field, "expected true or false"),
        };
    }

    /// <summary>An id or a list of ids (eos_token_id may be either); empty when absent.</summary>
    public static List<int> ReadIds(JsonElement? root, string field, string file)
    {
        var ids = new List<int>();
        if (root is not { } r || !r.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return ids;
        }

        if (value.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in value.EnumerateArray())
            {
                ids.Add(ReadId(item, field, file));
            }
        }
        else
        {
            ids.Add(ReadId(value, field, file));
        }

        return ids;
    }

    private static int ReadId(JsonElement value, string field, string file) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var id) && id >= 0
            ? id
            : throw new ModelLoadException(file, field, "expected a non-negative integer token id or a list of them");
}

using System.Text.Json;

namespace Inference.LoadGen.Planning;

/// <summary>
/// Reads a plan file (JSON; comments and trailing commas allowed). Strict: an unknown field, a duplicate, or a value of
/// the wrong type is an error naming the file and the field, so a misspelt <c>peak_facter</c> cannot pass silently.
/// </summary>
internal static class PlanFileReader
{
    /// <summary>The key under which a note on the phases goes in <c>notes</c>.</summary>
    public const string PhasesKey = "phases";

    private const string NotesKey = "notes";

    private static readonly JsonDocumentOptions Options = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        AllowDuplicateProperties = false,
    };

    // The objects of a plan file: every proper prefix of a setting key ("gpu", "traffic", "target_band").
    private static readonly HashSet<string> Groups = PlanSettings.All
        .Where(s => s.Key.Contains('.', StringComparison.Ordinal))
        .Select(s => s.Key[..s.Key.LastIndexOf('.')])
        .ToHashSet(StringComparer.Ordinal);

    /// <summary>Reads and checks the file at <paramref name="path"/>.</summary>
    /// <exception cref="PlanInputException">The file is missing, not JSON, or has an unknown, missing or mistyped field.</exception>
    public static PlanFileContents Read(string path)
    {
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PlanInputException($"plan file {path}: cannot be read ({e.Message}).");
        }

        return Parse(json, path);
    }

    /// <summary>Parses plan-file text; <paramref name="path"/> names it in errors and as the values' origin.</summary>
    public static PlanFileContents Parse(string json, string path)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, Options);
        }
        catch (JsonException e)
        {
            throw new PlanInputException($"plan file {path}: not valid JSON ({e.Message}).");
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new PlanInputException($"plan file {path}: must hold a JSON object.");
            }

            var values = new Dictionary<string, RawValue>(StringComparer.Ordinal);
            var notes = new Dictionary<string, string>(StringComparer.Ordinal);
            List<GrowthPhase>? phases = null;
            ReadObject(document.RootElement, prefix: string.Empty, path, values, notes, ref phases);
            return new PlanFileContents(path, values, notes, phases);
        }
    }

    private static void ReadObject(
        JsonElement element,
        string prefix,
        string path,
        Dictionary<string, RawValue> values,
        Dictionary<string, string> notes,
        ref List<GrowthPhase>? phases)
    {
        foreach (JsonProperty property in element.EnumerateObject())
        {
            string key = prefix.Length == 0 ? property.Name : prefix + "." + property.Name;
            if (PlanSettings.ByKey.TryGetValue(key, out PlanSetting? setting))
            {
                ReadValue(property.Value, setting, path, values);
            }
            else if (prefix.Length == 0 && property.Name == PhasesKey)
            {
                phases = ReadPhases(property.Value, path);
            }
            else if (prefix.Length == 0 && property.Name == NotesKey)
            {
                ReadNotes(property.Value, path, notes);
            }
            else if (Groups.Contains(key))
            {
                if (property.Value.ValueKind != JsonValueKind.Object)
                {
                    throw new PlanInputException($"plan file {path}: field '{key}' must be an object.");
                }

                ReadObject(property.Value, key, path, values, notes, ref phases);
            }
            else
            {
                throw new PlanInputException(
                    $"plan file {path}: unknown field '{key}' (known here: {string.Join(", ", KnownFields(prefix))}).");
            }
        }
    }

    private static IEnumerable<string> KnownFields(string prefix)
    {
        string start = prefix.Length == 0 ? string.Empty : prefix + ".";
        IEnumerable<string> names = PlanSettings.All.Select(s => s.Key).Concat(Groups)
            .Where(k => k.StartsWith(start, StringComparison.Ordinal))
            .Select(k => k[start.Length..])
            .Where(k => !k.Contains('.', StringComparison.Ordinal));
        if (prefix.Length == 0)
        {
            names = names.Append(PhasesKey).Append(NotesKey);
        }

        return names.Distinct(StringComparer.Ordinal);
    }

    private static void ReadValue(JsonElement value, PlanSetting setting, string path, Dictionary<string, RawValue> values)
    {
        if (value.ValueKind == JsonValueKind.Null && setting.Optional)
        {
            return;
        }

        if (setting.Kind == SettingKind.Number)
        {
            if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out double number) || !double.IsFinite(number))
            {
                throw new PlanInputException(
                    $"plan file {path}: field '{setting.Key}' must be a number, got {Describe(value)}.");
            }

            values[setting.Key] = new RawValue(number, null, path);
            return;
        }

        if (value.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(value.GetString()))
        {
            throw new PlanInputException(
                $"plan file {path}: field '{setting.Key}' must be a non-empty string, got {Describe(value)}.");
        }

        values[setting.Key] = new RawValue(null, value.GetString(), path);
    }

    private static List<GrowthPhase> ReadPhases(JsonElement value, string path)
    {
        if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() == 0)
        {
            throw new PlanInputException(
                $"plan file {path}: field 'phases' must be a non-empty list of {{\"name\", \"concurrent_users\"}}.");
        }

        var phases = new List<GrowthPhase>(value.GetArrayLength());
        int index = 0;
        foreach (JsonElement item in value.EnumerateArray())
        {
            string at = $"phases[{index}]";
            if (item.ValueKind != JsonValueKind.Object)
            {
                throw new PlanInputException($"plan file {path}: field '{at}' must be an object.");
            }

            string? name = null;
            long? users = null;
            foreach (JsonProperty property in item.EnumerateObject())
            {
                switch (property.Name)
                {
                    case "name" when property.Value.ValueKind == JsonValueKind.String
                                     && !string.IsNullOrWhiteSpace(property.Value.GetString()):
                        name = property.Value.GetString();
                        break;
                    case "name":
                        throw new PlanInputException(
                            $"plan file {path}: field '{at}.name' must be a non-empty string, got {Describe(property.Value)}.");
                    case "concurrent_users" when property.Value.ValueKind == JsonValueKind.Number
                                                 && property.Value.TryGetInt64(out long n) && n >= 1:
                        users = n;
                        break;
                    case "concurrent_users":
                        throw new PlanInputException(
                            $"plan file {path}: field '{at}.concurrent_users' must be a whole number ≥ 1, got {Describe(property.Value)}.");
                    default:
                        throw new PlanInputException(
                            $"plan file {path}: unknown field '{at}.{property.Name}' (known here: name, concurrent_users).");
                }
            }

            if (name is null)
            {
                throw new PlanInputException($"plan file {path}: missing field '{at}.name'.");
            }

            if (users is null)
            {
                throw new PlanInputException($"plan file {path}: missing field '{at}.concurrent_users'.");
            }

            phases.Add(new GrowthPhase(name, users.Value));
            index++;
        }

        return phases;
    }

    private static void ReadNotes(JsonElement value, string path, Dictionary<string, string> notes)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new PlanInputException($"plan file {path}: field 'notes' must be an object of setting key → sentence.");
        }

        foreach (JsonProperty property in value.EnumerateObject())
        {
            if (!PlanSettings.ByKey.ContainsKey(property.Name) && property.Name != PhasesKey)
            {
                throw new PlanInputException(
                    $"plan file {path}: field 'notes.{property.Name}' names no setting (notes are keyed by setting, e.g. \"gpu.price\").");
            }

            if (property.Value.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(property.Value.GetString()))
            {
                throw new PlanInputException(
                    $"plan file {path}: field 'notes.{property.Name}' must be a non-empty string, got {Describe(property.Value)}.");
            }

            notes[property.Name] = property.Value.GetString()!;
        }
    }

    /// <summary>A JSON value in an error message: its kind and, if short, its text.</summary>
    internal static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => $"string \"{value.GetString()}\"",
        JsonValueKind.Number => $"number {value.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => $"boolean {value.GetRawText()}",
        JsonValueKind.Null => "null",
        JsonValueKind.Array => "a list",
        _ => "an object",
    };
}

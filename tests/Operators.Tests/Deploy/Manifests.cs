using System.Text.Json;
using System.Text.RegularExpressions;

namespace Inference.Operators.Tests.Deploy;

/// <summary>Rendered Kubernetes objects (validate.mjs's JSON) with the look-ups the deployment tests need.</summary>
internal sealed partial class Manifests(JsonElement documents)
{
    public IEnumerable<JsonElement> All => documents.EnumerateArray();

    public IEnumerable<JsonElement> OfKind(string kind) => All.Where(o => Str(o, "kind") == kind);

    public JsonElement? Find(string kind, string name) =>
        OfKind(kind).Cast<JsonElement?>().FirstOrDefault(o => Str(o!.Value, "metadata", "name") == name);

    public JsonElement Get(string kind, string name) =>
        Find(kind, name) ?? throw new Xunit.Sdk.XunitException($"no {kind} {name} in [{string.Join(", ", All.Select(o => $"{Str(o, "kind")}/{Str(o, "metadata", "name")}"))}]");

    /// <summary>Generated names carry a hash suffix: the object whose name is <paramref name="name"/> or name-HASH.</summary>
    public JsonElement? FindGenerated(string kind, string name) =>
        OfKind(kind).Cast<JsonElement?>().FirstOrDefault(o => Str(o!.Value, "metadata", "name") is { } n && (n == name || GeneratedSuffix().IsMatch(n) && n[..n.LastIndexOf('-')] == name));

    /// <summary>Every workload's pod template: (owner "Kind/name", template).</summary>
    public IEnumerable<(string Owner, JsonElement Template)> PodTemplates() =>
        All.Where(o => Str(o, "kind") is "Deployment" or "StatefulSet" or "DaemonSet")
            .Select(o => ($"{Str(o, "kind")}/{Str(o, "metadata", "name")}", o.GetProperty("spec").GetProperty("template")));

    public static JsonElement Container(JsonElement workload, string name) =>
        workload.GetProperty("spec").GetProperty("template").GetProperty("spec").GetProperty("containers").EnumerateArray()
            .Single(c => Str(c, "name") == name);

    /// <summary>The container's args with $(VAR) replaced by its env values (as the kubelet does).</summary>
    public static string[] Args(JsonElement container)
    {
        Dictionary<string, string> env = Env(container);
        return Items(container, "args").Select(a => VarReference().Replace(a.GetString()!, m => env.TryGetValue(m.Groups[1].Value, out string? v) ? v : m.Value)).ToArray();
    }

    public static Dictionary<string, string> Env(JsonElement container) =>
        Items(container, "env").Where(e => e.TryGetProperty("value", out _)).ToDictionary(e => Str(e, "name")!, e => Str(e, "value")!);

    /// <summary>The values that follow each occurrence of <paramref name="flag"/>.</summary>
    public static string[] Flag(string[] args, string flag) =>
        args.Select((a, i) => (a, i)).Where(p => p.a == flag && p.i + 1 < args.Length).Select(p => args[p.i + 1]).ToArray();

    public static bool Selects(JsonElement selector, JsonElement labels)
    {
        if (selector.TryGetProperty("matchLabels", out JsonElement matchLabels))
        {
            foreach (JsonProperty l in matchLabels.EnumerateObject())
            {
                if (Str(labels, l.Name) != l.Value.GetString())
                {
                    return false;
                }
            }
        }

        foreach (JsonElement e in Items(selector, "matchExpressions"))
        {
            string? value = Str(labels, Str(e, "key")!);
            string[] values = Items(e, "values").Select(v => v.GetString()!).ToArray();
            bool ok = Str(e, "operator") switch
            {
                "In" => value is not null && values.Contains(value),
                "NotIn" => value is null || !values.Contains(value),
                "Exists" => value is not null,
                "DoesNotExist" => value is null,
                string op => throw new Xunit.Sdk.XunitException($"unknown selector operator {op}"),
                null => throw new Xunit.Sdk.XunitException("selector expression without operator"),
            };
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    public static JsonElement Labels(JsonElement template) => template.GetProperty("metadata").GetProperty("labels");

    public static IEnumerable<JsonElement> Items(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out JsonElement list) && list.ValueKind == JsonValueKind.Array
            ? list.EnumerateArray()
            : [];

    public static string? Str(JsonElement element, params string[] path)
    {
        foreach (string p in path)
        {
            if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(p, out element))
            {
                return null;
            }
        }

        return element.ValueKind == JsonValueKind.String ? element.GetString() : element.ValueKind == JsonValueKind.Undefined ? null : element.GetRawText();
    }

    [GeneratedRegex(@"-[a-z0-9]{10}$")]
    private static partial Regex GeneratedSuffix();

    [GeneratedRegex(@"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")]
    private static partial Regex VarReference();
}

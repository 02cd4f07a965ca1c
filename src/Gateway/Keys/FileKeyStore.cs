using System.Collections.Frozen;
using System.Text.Json;
using Inference.Scheduler;

namespace Inference.Gateway.Keys;

/// <summary>
/// API keys, tenant limits and tier overrides read from a JSON file, for a standalone gateway; one immutable key set
/// (<see cref="ReloadingKeyStore"/> swaps in a new one when the file changes).
/// Keys are held only as SHA-256 hashes; lookups hash the presented key, find candidates by
/// <see cref="ApiKey.KeyId"/> and compare the full hash in constant time.
/// </summary>
/// <remarks>
/// The file (comments and trailing commas allowed; unknown fields are errors, so typos fail loudly):
/// <code>
/// {
///   "tiers": {                                   // optional: override tier defaults (see TierPolicy)
///     "free": { "requests_per_minute": 5, "priority": "batch" }
///   },
///   "tenants": {                                 // optional: limits shared by all keys of a tenant
///     "acme": { "tokens_per_minute": 200000, "monthly_tokens": 100000000 }
///   },
///   "keys": [
///     { "name": "acme-prod",
///       "sha256": "64 hex digits of SHA-256(key)",  // preferred: the file never holds the secret
///       "prefix": "sk-Ab1",                        // optional, shown as "sk-Ab1…" in logs and UIs
///       "tenant": "acme", "tier": "premium",
///       "limits": { "requests_per_minute": 600 },  // optional: overrides the tier defaults for this key
///       "disabled": false,                         // optional
///       "expires_at": "2027-01-01T00:00:00Z" },    // optional, ISO 8601
///     { "name": "local-dev", "key": "sk-dev-only", "tenant": "dev", "tier": "free" }
///   ]
/// }
/// </code>
/// A key is given by exactly one of <c>sha256</c> or <c>key</c> (plain text, hashed at load and not kept).
/// <c>tenant</c> and <c>tier</c> are required. Limit fields (all optional, non-negative integers; absent or null
/// means "tier default" for keys and tiers, "unlimited" for tenants): <c>requests_per_minute</c>,
/// <c>tokens_per_minute</c>, <c>concurrent_requests</c>, <c>daily_tokens</c>, <c>monthly_tokens</c>.
/// Tiers: free, basic, premium, enterprise; priorities: interactive, standard, batch.
/// </remarks>
public sealed class FileKeyStore : IKeyStore, ILimitsSource
{
    private static readonly JsonDocumentOptions DocumentOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    private static readonly string[] LimitFields =
        ["requests_per_minute", "tokens_per_minute", "concurrent_requests", "daily_tokens", "monthly_tokens"];

    private readonly FrozenDictionary<string, Entry[]> _byKeyId;
    private readonly FrozenDictionary<string, Limits> _tenants;
    private readonly TimeProvider _time;

    internal FileKeyStore(
        IEnumerable<Entry> entries,
        IReadOnlyDictionary<string, Limits> tenants,
        TierPolicy tiers,
        TimeProvider time)
    {
        var list = entries.ToList();
        _byKeyId = list.GroupBy(e => e.Key.KeyId, StringComparer.Ordinal)
            .ToFrozenDictionary(g => g.Key, g => g.ToArray(), StringComparer.Ordinal);
        Count = list.Count;
        _tenants = tenants.ToFrozenDictionary(StringComparer.Ordinal);
        Tiers = tiers;
        _time = time;
    }

    /// <inheritdoc/>
    public int Count { get; }

    /// <summary>Tier defaults after the file's <c>tiers</c> overrides.</summary>
    public TierPolicy Tiers { get; }

    /// <summary>Reads and validates <paramref name="path"/>; throws <see cref="KeyFileException"/> naming the field at fault.</summary>
    /// <param name="path">The key file.</param>
    /// <param name="time">Clock for expiry; the system clock when null.</param>
    /// <param name="tiers">Tier defaults the file's <c>tiers</c> section overrides; <see cref="TierPolicy.Default"/> when null.</param>
    public static FileKeyStore Load(string path, TimeProvider? time = null, TierPolicy? tiers = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KeyFileException(path, "$", $"cannot read the file ({e.Message})", e);
        }

        return Parse(json, path, time, tiers);
    }

    /// <summary>Parses key-file JSON; <paramref name="sourceName"/> is what error messages call the file.</summary>
    public static FileKeyStore Parse(string json, string sourceName, TimeProvider? time = null, TierPolicy? tiers = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(sourceName);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, DocumentOptions);
        }
        catch (JsonException e)
        {
            int? line = e.LineNumber is { } n ? (int)n + 1 : null;
            throw new KeyFileException(sourceName, "$", $"not valid JSON (line {line}, byte {e.BytePositionInLine}): {e.Message}", e, line);
        }

        using (document)
        {
            return new Parser(sourceName, json).Read(document.RootElement, time ?? TimeProvider.System, tiers ?? TierPolicy.Default);
        }
    }

    /// <inheritdoc/>
    public ValueTask<ApiKey?> FindAsync(string presentedKey, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(presentedKey);
        Span<byte> hash = stackalloc byte[KeyHash.Length];
        System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(presentedKey), hash);
        return ValueTask.FromResult(Find(hash));
    }

    internal ApiKey? Find(ReadOnlySpan<byte> hash)
    {
        if (!_byKeyId.TryGetValue(KeyHash.KeyIdOf(hash), out var candidates))
        {
            return null;
        }

        ApiKey? found = null;
        foreach (var candidate in candidates)
        {
            // Full-hash comparison in constant time; the KeyId lookup above reveals only what the id already shows.
            if (KeyHash.FixedTimeEquals(candidate.Hash, hash))
            {
                found = candidate.Key;
            }
        }

        return found is not null && found.IsUsableAt(_time.GetUtcNow()) ? found : null;
    }

    /// <summary>Limits of <paramref name="tenant"/> from the file's <c>tenants</c> section; unlimited when absent.</summary>
    public Limits TenantLimits(string tenant) => _tenants.GetValueOrDefault(tenant) ?? Limits.Unlimited;

    /// <inheritdoc/>
    public ValueTask<EffectiveLimits> ResolveAsync(ApiKey key, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(key);
        return ValueTask.FromResult(new EffectiveLimits(Tiers.EffectiveLimits(key), TenantLimits(key.Tenant), Tiers.PriorityFor(key.Tier)));
    }

    /// <summary>One stored key: its hash and what it grants.</summary>
    internal sealed record Entry(byte[] Hash, ApiKey Key);

    private sealed class Parser(string file, string json)
    {
        public FileKeyStore Read(JsonElement root, TimeProvider time, TierPolicy tiers)
        {
            Expect(root, JsonValueKind.Object, "$");
            CheckFields(root, "$", "tiers", "tenants", "keys");

            if (root.TryGetProperty("tiers", out var tiersElement) && tiersElement.ValueKind != JsonValueKind.Null)
            {
                Expect(tiersElement, JsonValueKind.Object, "tiers");
                foreach (var tier in tiersElement.EnumerateObject())
                {
                    var field = $"tiers.{tier.Name}";
                    var parsed = ParseTier(tier.Name, field);
                    Expect(tier.Value, JsonValueKind.Object, field);
                    CheckFields(tier.Value, field, [.. LimitFields, "priority"]);
                    PriorityClass? priority = null;
                    if (tier.Value.TryGetProperty("priority", out var p) && p.ValueKind != JsonValueKind.Null)
                    {
                        priority = ParsePriority(p, $"{field}.priority");
                    }

                    tiers = tiers.WithOverride(parsed, ReadLimits(tier.Value, field), priority);
                }
            }

            var tenants = new Dictionary<string, Limits>(StringComparer.Ordinal);
            if (root.TryGetProperty("tenants", out var tenantsElement) && tenantsElement.ValueKind != JsonValueKind.Null)
            {
                Expect(tenantsElement, JsonValueKind.Object, "tenants");
                foreach (var tenant in tenantsElement.EnumerateObject())
                {
                    var field = $"tenants.{tenant.Name}";
                    if (string.IsNullOrWhiteSpace(tenant.Name))
                    {
                        throw Error(field, "a tenant name must not be empty");
                    }

                    Expect(tenant.Value, JsonValueKind.Object, field);
                    CheckFields(tenant.Value, field, LimitFields);
                    tenants[tenant.Name] = ReadLimits(tenant.Value, field);
                }
            }

            if (!root.TryGetProperty("keys", out var keysElement))
            {
                throw Error("keys", "missing; give a list of keys (it may be empty)");
            }

            Expect(keysElement, JsonValueKind.Array, "keys");
            var entries = new List<Entry>();
            var seen = new Dictionary<string, int>(StringComparer.Ordinal);
            var index = 0;
            foreach (var key in keysElement.EnumerateArray())
            {
                var field = $"keys[{index}]";
                var entry = ReadKey(key, field);
                var hex = Convert.ToHexStringLower(entry.Hash);
                if (seen.TryGetValue(hex, out var first))
                {
                    throw Error(field, $"the same key as keys[{first}]");
                }

                seen[hex] = index;
                entries.Add(entry);
                index++;
            }

            return new FileKeyStore(entries, tenants, tiers, time);
        }

        private Entry ReadKey(JsonElement key, string field)
        {
            Expect(key, JsonValueKind.Object, field);
            CheckFields(key, field, "name", "sha256", "key", "prefix", "tenant", "tier", "limits", "disabled", "expires_at");

            var sha = OptionalString(key, "sha256", field);
            var plain = OptionalString(key, "key", field);
            byte[] hash;
            string display;
            if (sha is not null && plain is not null)
            {
                throw Error($"{field}.key", "give either \"sha256\" or \"key\", not both");
            }
            else if (sha is not null)
            {
                if (!KeyHash.TryParseHex(sha, out hash))
                {
                    throw Error($"{field}.sha256", "expected 64 hex digits (SHA-256 of the key)");
                }

                var prefix = OptionalString(key, "prefix", field);
                display = prefix is null ? $"{KeyHash.KeyIdOf(hash)[..8]}…" : prefix + "…";
            }
            else if (plain is not null)
            {
                if (plain.Length < 8)
                {
                    throw Error($"{field}.key", "too short; use at least 8 characters (tools: ApiKeyGenerator)");
                }

                hash = KeyHash.Sha256(plain);
                display = OptionalString(key, "prefix", field) is { } prefix ? prefix + "…" : ApiKeyGenerator.DisplayPrefixOf(plain);
            }
            else
            {
                throw Error($"{field}.sha256", "missing; give \"sha256\" (hex SHA-256 of the key) or \"key\" (plain text)");
            }

            var tenant = OptionalString(key, "tenant", field);
            if (string.IsNullOrWhiteSpace(tenant))
            {
                throw Error($"{field}.tenant", "missing or empty");
            }

            var tierText = OptionalString(key, "tier", field) ?? throw Error($"{field}.tier", "missing");
            var tier = ParseTier(tierText, $"{field}.tier");

            Limits? limits = null;
            if (key.TryGetProperty("limits", out var limitsElement) && limitsElement.ValueKind != JsonValueKind.Null)
            {
                Expect(limitsElement, JsonValueKind.Object, $"{field}.limits");
                CheckFields(limitsElement, $"{field}.limits", LimitFields);
                limits = ReadLimits(limitsElement, $"{field}.limits");
            }

            var disabled = false;
            if (key.TryGetProperty("disabled", out var disabledElement) && disabledElement.ValueKind != JsonValueKind.Null)
            {
                disabled = disabledElement.ValueKind switch
                {
                    JsonValueKind.True => true,
                    JsonValueKind.False => false,
                    _ => throw Error($"{field}.disabled", "expected true or false"),
                };
            }

            DateTimeOffset? expires = null;
            if (OptionalString(key, "expires_at", field) is { } expiresText)
            {
                if (!DateTimeOffset.TryParse(expiresText, System.Globalization.CultureInfo.InvariantCulture,
                        System.Globalization.DateTimeStyles.AssumeUniversal, out var parsed))
                {
                    throw Error($"{field}.expires_at", $"'{expiresText}' is not an ISO 8601 date-time");
                }

                expires = parsed;
            }

            var name = OptionalString(key, "name", field) ?? string.Empty;
            return new Entry(hash, new ApiKey(KeyHash.KeyIdOf(hash), display, tenant, tier, limits, name, disabled, expires));
        }

        private Limits ReadLimits(JsonElement element, string field) => new(
            (int?)ReadCount(element, "requests_per_minute", field, int.MaxValue),
            ReadCount(element, "tokens_per_minute", field, long.MaxValue),
            (int?)ReadCount(element, "concurrent_requests", field, int.MaxValue),
            ReadCount(element, "daily_tokens", field, long.MaxValue),
            ReadCount(element, "monthly_tokens", field, long.MaxValue));

        private long? ReadCount(JsonElement element, string name, string field, long max)
        {
            if (!element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            {
                return null;
            }

            if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var number) || number < 0 || number > max)
            {
                throw Error($"{field}.{name}", $"expected a whole number from 0 to {max}, or null for no limit; got {value.GetRawText()}");
            }

            return number;
        }

        private string? OptionalString(JsonElement element, string name, string field)
        {
            if (!element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            {
                return null;
            }

            if (value.ValueKind != JsonValueKind.String)
            {
                throw Error($"{field}.{name}", $"expected a string, got {value.ValueKind.ToString().ToLowerInvariant()}");
            }

            return value.GetString();
        }

        private Tier ParseTier(string text, string field) => text switch
        {
            "free" => Tier.Free,
            "basic" => Tier.Basic,
            "premium" => Tier.Premium,
            "enterprise" => Tier.Enterprise,
            _ => throw Error(field, $"unknown tier '{text}' (expected free, basic, premium or enterprise)"),
        };

        private PriorityClass ParsePriority(JsonElement element, string field) => element.ValueKind == JsonValueKind.String
            ? element.GetString() switch
            {
                "interactive" => PriorityClass.Interactive,
                "standard" => PriorityClass.Standard,
                "batch" => PriorityClass.Batch,
                var other => throw Error(field, $"unknown priority '{other}' (expected interactive, standard or batch)"),
            }
            : throw Error(field, "expected a string: interactive, standard or batch");

        private void Expect(JsonElement element, JsonValueKind kind, string field)
        {
            if (element.ValueKind != kind)
            {
                throw Error(field, $"expected {(kind == JsonValueKind.Object ? "an object" : "an array")}, got {element.ValueKind.ToString().ToLowerInvariant()}");
            }
        }

        private void CheckFields(JsonElement element, string field, params string[] allowed)
        {
            foreach (var property in element.EnumerateObject())
            {
                if (Array.IndexOf(allowed, property.Name) < 0)
                {
                    throw Error(field == "$" ? property.Name : $"{field}.{property.Name}",
                        $"unknown field (expected one of {string.Join(", ", allowed)})");
                }
            }
        }

        private KeyFileException Error(string field, string problem)
        {
            int? line = LineOf(json, field);
            return new(file, field, line is null ? problem : $"{problem} (line {line})", line: line);
        }

        /// <summary>
        /// The 1-based line where <paramref name="field"/> (a path as the parser names it: "keys[2].tier",
        /// "tenants.acme") starts, found by walking the tokens again; only on the error path. Null for "$".
        /// </summary>
        private static int? LineOf(string json, string field)
        {
            byte[] utf8 = System.Text.Encoding.UTF8.GetBytes(json);
            var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            var containers = new Stack<(string Path, bool IsArray, int NextIndex)>();
            string? property = null;
            while (reader.Read())
            {
                string? path = null;
                if (reader.TokenType == JsonTokenType.PropertyName)
                {
                    string parent = containers.Peek().Path;
                    property = parent.Length == 0 ? reader.GetString()! : $"{parent}.{reader.GetString()}";
                    path = property;
                }
                else if (reader.TokenType is JsonTokenType.EndObject or JsonTokenType.EndArray)
                {
                    containers.Pop();
                    continue;
                }
                else
                {
                    // A value: an array element gets its index; an object member was named by its property.
                    string valuePath;
                    if (containers.Count == 0)
                    {
                        valuePath = string.Empty;
                    }
                    else if (containers.Peek().IsArray)
                    {
                        var (arrayPath, _, index) = containers.Pop();
                        containers.Push((arrayPath, true, index + 1));
                        valuePath = $"{arrayPath}[{index}]";
                        path = valuePath;
                    }
                    else
                    {
                        valuePath = property!;
                    }

                    if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
                    {
                        containers.Push((valuePath, reader.TokenType == JsonTokenType.StartArray, 0));
                    }
                }

                if (path == field)
                {
                    return 1 + utf8.AsSpan(0, (int)reader.TokenStartIndex).Count((byte)'\n');
                }
            }

            return null;
        }
    }
}

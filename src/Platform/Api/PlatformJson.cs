using System.Text.Json;
using System.Text.Json.Serialization;

namespace Inference.Platform.Api;

/// <summary>The management API's JSON: snake_case names, enums as snake_case strings, nulls left out, unknown request fields refused.</summary>
public static class PlatformJson
{
    public static JsonSerializerOptions Options { get; } = Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    /// <summary>Applies the API's conventions to <paramref name="options"/> (also used for the framework's JSON and the OpenAPI document).</summary>
    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        // Korean names and text stay readable in responses; HTML-sensitive characters are still escaped.
        options.Encoder = System.Text.Encodings.Web.JavaScriptEncoder.Create(System.Text.Unicode.UnicodeRanges.All);
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
        options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower));
        return options;
    }
}

using Microsoft.Extensions.Logging;

namespace Inference.Gateway.Keys;

/// <summary>Log messages of the gateway's key stores (event ids 3300-3399). Keys never appear in them.</summary>
internal static partial class KeysLog
{
    [LoggerMessage(3301, LogLevel.Information, "Key file {Path} reloaded: {Keys} keys in use")]
    public static partial void Reloaded(ILogger logger, string path, int keys);

    [LoggerMessage(3302, LogLevel.Warning, "Key file not reloaded, the {Keys} keys in use stay: {Error}")]
    public static partial void Refused(ILogger logger, int keys, string error);

    [LoggerMessage(3303, LogLevel.Warning, "Key file {Path}: no change events ({Reason}); checking it every {Seconds} s")]
    public static partial void NoEvents(ILogger logger, string path, string reason, double seconds);

    [LoggerMessage(3304, LogLevel.Warning, "Key file {Path} could not be checked")]
    public static partial void CheckFailed(ILogger logger, Exception exception, string path);
}

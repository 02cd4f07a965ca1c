namespace Inference.Worker.Tokenization.Jinja;

/// <summary>
/// Bounds on one render so a hostile or broken template cannot hang or exhaust the worker. The defaults are far
/// above what real chat templates need (a 100k-token prompt renders to well under a million characters).
/// </summary>
internal sealed record JinjaLimits
{
    public static JinjaLimits Default { get; } = new();

    /// <summary>Most characters written in one render, counting macro and block-set buffers, and the longest string built.</summary>
    public int MaxOutputChars { get; init; } = 8 * 1024 * 1024;

    /// <summary>Most loop iterations in one render, all loops together.</summary>
    public int MaxIterations { get; init; } = 1_000_000;

    /// <summary>Deepest nesting of macro calls.</summary>
    public int MaxCallDepth { get; init; } = 64;

    /// <summary>Largest range() (jinja2's sandbox allows 100000).</summary>
    public int MaxRange { get; init; } = 100_000;
}

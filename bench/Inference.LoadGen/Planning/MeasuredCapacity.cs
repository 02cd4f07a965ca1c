namespace Inference.LoadGen.Planning;

/// <summary>The request rate one GPU sustains within the SLO, and the request shape it was measured at.</summary>
/// <param name="RequestRatePerGpu">Requests per second one GPU serves within the SLO.</param>
/// <param name="InputTokens">Mean prompt tokens per request of the measurement.</param>
/// <param name="OutputTokens">Mean generated tokens per request of the measurement.</param>
/// <param name="Source">Where the figure comes from, in words.</param>
/// <param name="Setting">The serving setting the sweep recommended (empty when the capacity was given as numbers).</param>
internal sealed record MeasuredCapacity(
    double RequestRatePerGpu,
    double InputTokens,
    double OutputTokens,
    string Source,
    IReadOnlyList<KeyValuePair<string, string>> Setting);

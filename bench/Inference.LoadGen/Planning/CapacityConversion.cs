namespace Inference.LoadGen.Planning;

/// <summary>The measured capacity carried over to the forecast's request shape.</summary>
/// <param name="MeasuredWork">Work per request of the measured shape (output + prefill weight × input tokens).</param>
/// <param name="ForecastWork">Work per request of the forecast shape.</param>
/// <param name="RequestRatePerGpu">Requests per second one GPU sustains at the forecast shape within the SLO.</param>
/// <param name="PlannedRequestRatePerGpu">The part of it planned for: × max utilisation.</param>
internal sealed record CapacityConversion(
    double MeasuredWork,
    double ForecastWork,
    double RequestRatePerGpu,
    double PlannedRequestRatePerGpu);

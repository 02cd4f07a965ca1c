namespace Inference.LoadGen.Planning;

/// <summary>
/// A plan that cannot be computed as given: a bad option, a missing or malformed field, a value out of range. The
/// message names the option or the file and field; <see cref="PlanCommand"/> prints it and exits with 2.
/// </summary>
internal sealed class PlanInputException(string message) : Exception(message);

namespace Inference.LoadGen.Planning;

/// <summary>What a plan file gave: setting values by key, notes by key, and the phases.</summary>
/// <param name="Path">The file as named on the command line.</param>
/// <param name="Values">Setting values by setting key.</param>
/// <param name="Notes">The file's <c>notes</c>: a sentence per setting key (or <c>phases</c>).</param>
/// <param name="Phases">The file's <c>phases</c>; null when it has none.</param>
internal sealed record PlanFileContents(
    string Path,
    IReadOnlyDictionary<string, RawValue> Values,
    IReadOnlyDictionary<string, string> Notes,
    IReadOnlyList<GrowthPhase>? Phases);

namespace Inference.LoadGen.Planning;

/// <summary>A computed plan: its inputs, the capacity conversion, each phase, and notes on what the numbers imply.</summary>
internal sealed record PlanResult(
    PlanInputs Inputs,
    CapacityConversion Conversion,
    IReadOnlyList<PhasePlan> Phases,
    IReadOnlyList<string> Notes);

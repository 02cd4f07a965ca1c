namespace Inference.LoadGen.Planning;

/// <summary>Where a value in a plan came from; every assumption in every report states it.</summary>
internal enum SettingSource
{
    /// <summary>An option on the command line (it wins over every file).</summary>
    CommandLine,

    /// <summary>A field of the <c>--plan</c> file.</summary>
    PlanFile,

    /// <summary>The <c>recommended</c> object of a <c>--sweep</c> result file.</summary>
    SweepFile,

    /// <summary>The planner's default for a setting nobody gave.</summary>
    Default,

    /// <summary>Part of the planner's model (a constant or a formula), not a setting.</summary>
    Model,
}

namespace Inference.LoadGen.Planning;

/// <summary>
/// <c>bench plan</c>: GPUs, expected utilisation and monthly cost per growth phase, from a measured capacity (a
/// <c>bench sweep</c> result or numbers) and a traffic forecast. Prints a table and every assumption; with
/// <c>--out DIR</c> also writes plan.json, plan.md and plan.svg there. See deploy/plan/README.md.
/// </summary>
public static class PlanCommand
{
    /// <summary>Runs the planner on <paramref name="args"/> (the arguments after <c>plan</c>).</summary>
    /// <returns>0 when the plan was computed and written; 2 for bad usage or input (the message names the option or
    /// field); 1 when the reports could not be written.</returns>
    public static int Run(string[] args) => Run(args, Console.Out, Console.Error);

    internal static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        PlanResult result;
        PlanArguments arguments;
        try
        {
            arguments = PlanArguments.Parse(args);
            if (arguments.Help)
            {
                output.Write(PlanArguments.Usage());
                return 0;
            }

            if (arguments.PlanFile is null && args.Count == 0)
            {
                error.WriteLine("error: give --plan FILE (example: deploy/plan/business-phases.json), or the settings as options.");
                error.Write(PlanArguments.Usage());
                return 2;
            }

            result = PlanCalculator.Compute(PlanInputsResolver.Resolve(arguments));
        }
        catch (PlanInputException e)
        {
            error.WriteLine($"error: {e.Message}");
            return 2;
        }

        IReadOnlyList<string> reports = [];
        if (arguments.OutDirectory is not null)
        {
            try
            {
                reports = PlanReportWriter.Write(result, arguments.OutDirectory, "bench plan " + string.Join(' ', args.Select(Quote)));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                error.WriteLine($"error: cannot write the reports to {arguments.OutDirectory} (--out): {e.Message}");
                return 1;
            }
        }

        PlanConsoleReport.Write(result, output, reports);
        return 0;
    }

    private static string Quote(string arg) =>
        arg.Length > 0 && arg.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/' or ',' or '=' or ':')
            ? arg
            : "'" + arg.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}

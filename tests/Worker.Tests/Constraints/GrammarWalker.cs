using System.Text;
using Inference.Worker.Constraints;

namespace Inference.Worker.Tests.Constraints;

/// <summary>Draws random strings from a grammar byte by byte, steering to an end after a budget.</summary>
internal static class GrammarWalker
{
    private static readonly byte[] Closers = "\"}]0\n"u8.ToArray();

    public static string Walk(Grammar grammar, Random random, int budget = 200)
    {
        var output = new List<byte>();
        MatchState state = grammar.Initial;
        var candidates = new List<(byte, MatchState)>();
        while (output.Count < 20 * budget)
        {
            if (state.CanEnd && (state.IsComplete || output.Count > budget || random.Next(8) == 0))
            {
                return Encoding.UTF8.GetString([.. output]);
            }

            candidates.Clear();
            for (int b = 0; b < 256; b++)
            {
                if (grammar.Step(state, (byte)b) is { } next)
                {
                    candidates.Add(((byte)b, next));
                }
            }

            Assert.NotEmpty(candidates);
            (byte, MatchState) pick = candidates[random.Next(candidates.Count)];
            if (output.Count > budget)
            {
                foreach (byte closer in Closers)
                {
                    int i = candidates.FindIndex(c => c.Item1 == closer);
                    if (i >= 0)
                    {
                        pick = candidates[i];
                        break;
                    }
                }
            }

            output.Add(pick.Item1);
            state = pick.Item2;
        }

        throw new InvalidOperationException("the walk did not end: " + Encoding.UTF8.GetString([.. output]));
    }
}

using Inference.Worker.Sampling;

namespace Inference.Worker.Runtime;

/// <summary>Whether a sampled token ends its sequence (EOS unless ignored, or a requested stop id). No allocation.</summary>
internal static class StopTokens
{
    public static bool Ends(int token, SamplingParams parameters, IReadOnlyList<int> eosTokenIds) =>
        (!parameters.IgnoreEos && Contains(eosTokenIds, token)) || Contains(parameters.StopTokenIds, token);

    private static bool Contains(IReadOnlyList<int> ids, int token)
    {
        for (int i = 0; i < ids.Count; i++)
        {
            if (ids[i] == token)
            {
                return true;
            }
        }

        return false;
    }
}

using Inference.Trainer;

namespace Inference.Worker.Tests.Demo;

/// <summary>
/// A fact that needs Debian's word list (wamerican, /usr/share/dict/american-english): reported as skipped, with the
/// reason, when it is missing, unless INFERENCE_TEST_DICTIONARY=require (.ci/run installs it and sets that).
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class DictionaryFactAttribute : FactAttribute
{
    public DictionaryFactAttribute()
    {
        if (!File.Exists(ChatEvaluation.DictionaryPath)
            && !string.Equals(Environment.GetEnvironmentVariable("INFERENCE_TEST_DICTIONARY"), "require", StringComparison.OrdinalIgnoreCase))
        {
            Skip = $"{ChatEvaluation.DictionaryPath} is missing (apt-get install -y wamerican); INFERENCE_TEST_DICTIONARY=require makes this a failure";
        }
    }
}

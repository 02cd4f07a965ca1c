namespace Inference.Worker.Runtime;

/// <summary>Why a sequence stopped, in OpenAI's vocabulary.</summary>
public enum FinishReason
{
    None,

    /// <summary>An EOS or stop token id (or, later, a stop string).</summary>
    Stop,

    /// <summary>max_tokens reached, or the model's context is full.</summary>
    Length,

    Abort,
}

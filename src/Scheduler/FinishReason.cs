namespace Inference.Scheduler;

/// <summary>Why a sequence stopped, in OpenAI's vocabulary plus abort and error.</summary>
public enum FinishReason
{
    None,

    /// <summary>An EOS or stop token id, or a stop string.</summary>
    Stop,

    /// <summary>max_tokens reached, or the model's context is full.</summary>
    Length,

    /// <summary>The client went away or the request was cancelled.</summary>
    Abort,

    /// <summary>The engine failed while running it.</summary>
    Error,
}

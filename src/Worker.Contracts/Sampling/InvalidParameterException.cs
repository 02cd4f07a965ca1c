namespace Inference.Worker.Sampling;

/// <summary>
/// A request parameter is out of range. <see cref="Param"/> is the API's own name for it
/// (e.g. "top_p"), which the gateway reports in the OpenAI error object's "param" field.
/// </summary>
public sealed class InvalidParameterException : ArgumentException
{
    public InvalidParameterException(string param, string message)
        : base(message)
    {
        Param = param;
    }

    public string Param { get; }
}

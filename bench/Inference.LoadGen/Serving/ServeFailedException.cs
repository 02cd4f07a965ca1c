namespace Inference.LoadGen.Serving;

/// <summary>The benchmark could not run against the server (unreachable, no models, a failing test request).</summary>
public sealed class ServeFailedException : Exception
{
    public ServeFailedException(string message) : base(message)
    {
    }

    public ServeFailedException(string message, Exception inner) : base(message, inner)
    {
    }

    public ServeFailedException()
    {
    }
}

using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Inference.Gateway.Tests.Infrastructure;

/// <summary>Collects Error and Critical log entries of a gateway so a test fails on unexpected errors.</summary>
public sealed class ErrorLogCollector : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _errors = new();

    public IReadOnlyCollection<string> Errors => _errors;

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _errors);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<string> errors) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Error)
            {
                errors.Enqueue($"{category}[{eventId.Id}]: {formatter(state, exception)} {exception?.GetType().Name}");
            }
        }
    }
}

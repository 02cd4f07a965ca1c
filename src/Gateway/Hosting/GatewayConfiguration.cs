using Inference.Gateway.HealthChecks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Inference.Gateway.Hosting;

/// <summary>
/// The gateway's settings through the options framework: <see cref="GatewayOptions"/> bound from the configuration
/// section <c>Gateway</c> (appsettings.json, then environment variables INFERENCE_Gateway__Name, then the command line,
/// later sources winning) and validated by <see cref="GatewayOptionsValidator"/>, which lists every failure at once.
/// </summary>
public static class GatewayConfiguration
{
    public const string Section = "Gateway";

    /// <summary>The environment variable prefix: INFERENCE_Gateway__HttpPort=8080.</summary>
    public const string EnvironmentPrefix = "INFERENCE_";

    /// <summary>Binds <see cref="GatewayOptions"/> to <c>Gateway</c> of <paramref name="configuration"/>, validated on start.</summary>
    public static OptionsBuilder<GatewayOptions> AddInferenceGatewayOptions(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddSingleton<IValidateOptions<GatewayOptions>, GatewayOptionsValidator>();
        return services.AddOptions<GatewayOptions>()
            .Bind(configuration.GetSection(Section), binder => binder.ErrorOnUnknownConfiguration = true)
            .ValidateOnStart();
    }

    /// <summary>
    /// Reads and validates the options from <paramref name="configuration"/>; OptionsValidationException listing every
    /// failure (each naming its flag and key), or InvalidOperationException naming a key that is unknown or mistyped.
    /// </summary>
    public static GatewayOptions Load(IConfiguration configuration)
    {
        var services = new ServiceCollection();
        services.AddInferenceGatewayOptions(configuration);
        using ServiceProvider provider = services.BuildServiceProvider();
        return provider.GetRequiredService<IOptions<GatewayOptions>>().Value;
    }

    /// <summary>The configuration sources in order: appsettings.json (optional, or <paramref name="settingsFile"/>), the
    /// environment (INFERENCE_), then <paramref name="commandLine"/> (keys like Gateway:HttpPort).</summary>
    public static IConfigurationRoot Build(string? settingsFile, IEnumerable<KeyValuePair<string, string?>> commandLine)
    {
        var builder = new ConfigurationBuilder();
        if (settingsFile is not null)
        {
            builder.AddJsonFile(Path.GetFullPath(settingsFile), optional: false, reloadOnChange: false);
        }
        else
        {
            builder.AddJsonFile(Path.GetFullPath("appsettings.json"), optional: true, reloadOnChange: false);
        }

        return builder.AddEnvironmentVariables(EnvironmentPrefix).AddInMemoryCollection(commandLine).Build();
    }
}

/// <summary>Every problem of a <see cref="GatewayOptions"/> (<see cref="GatewayOptions.Problems"/>), as one failed result.</summary>
public sealed class GatewayOptionsValidator : IValidateOptions<GatewayOptions>
{
    public ValidateOptionsResult Validate(string? name, GatewayOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        List<string> problems = options.Problems();
        if (options.LocalWorker is { } local && string.IsNullOrWhiteSpace(local.ModelDir))
        {
            problems.Add("--model (Gateway:LocalWorker:ModelDir) must name the in-process worker's model folder.");
        }

        try
        {
            options.LocalEngine.Scheduler.Validate();
        }
        catch (ArgumentException ex)
        {
            problems.Add($"Gateway:LocalEngine:Scheduler: {ex.Message}");
        }

        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}

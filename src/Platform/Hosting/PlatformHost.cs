using Inference.Gateway.Hosting;
using Inference.Platform.Api;
using Inference.Platform.Billing;
using Inference.Platform.Email;
using Inference.Platform.Keys;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Inference.Platform.Hosting;

/// <summary>
/// The whole stack in one process: the gateway (OpenAI HTTP under /v1, gRPC) with the platform's key store, limits
/// and usage ledger plugged into its seams, and the management API under /api on the same HTTP port.
/// </summary>
public sealed class PlatformHost : IAsyncDisposable
{
    private readonly ILoggerFactory _loggers;

    private PlatformHost(GatewayHost gateway, PlatformServices services, string? bootstrapToken, ILoggerFactory loggers)
    {
        _loggers = loggers;
        Gateway = gateway;
        Services = services;
        BootstrapToken = bootstrapToken;
        BootstrapTokenFile = bootstrapToken is null ? null : services.Get<AdminBootstrap>().TokenFile;
    }

    public GatewayHost Gateway { get; }

    public PlatformServices Services { get; }

    /// <summary>The one-time admin bootstrap token when no admin exists yet, else null.</summary>
    public string? BootstrapToken { get; }

    /// <summary>The file the bootstrap token was written to (the command line prints this path, never the token), else null.</summary>
    public string? BootstrapTokenFile { get; }

    public Uri HttpAddress => Gateway.HttpAddress;

    public static async Task<PlatformHost> StartAsync(
        PlatformOptions platform, GatewayOptions gateway, GatewayDependencies? dependencies = null, Action<ILoggingBuilder>? logging = null,
        IProgress<Worker.Loading.LoadProgress>? progress = null, IEmailSender? email = null, HttpMessageHandler? webhookHandler = null,
        CancellationToken cancellationToken = default)
    {
        dependencies ??= new GatewayDependencies();
        TimeProvider time = dependencies.Time ?? TimeProvider.System;
        ILoggerFactory loggerFactory = LoggerFactory.Create(b =>
        {
            if (logging is null)
            {
                b.AddSimpleConsole(o => o.SingleLine = true);
                b.SetMinimumLevel(LogLevel.Information);
            }
            else
            {
                logging(b);
            }
        });
        PlatformServices services;
        try
        {
            services = await PlatformServices.CreateAsync(platform, loggerFactory, time, email, webhookHandler, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            loggerFactory.Dispose();
            throw;
        }

        try
        {
            string? bootstrap = await services.Get<AdminBootstrap>().EnsureAsync(cancellationToken).ConfigureAwait(false);
            PlatformKeyStore store = services.Get<PlatformKeyStore>();
            GatewayHost host = await GatewayHost.StartAsync(
                gateway with { RequireKeys = true, KeysFile = null, UsageLog = null },
                dependencies with
                {
                    Keys = store,
                    Limits = store,
                    UsageSink = services.Get<UsageLedger>(),
                    Time = time,
                    ConfigureServices = s =>
                    {
                        services.AddTo(s);
                        ManagementApi.AddManagementApi(s, services.Options);
                        Web.WebSetup.AddDashboard(s, services.Options);
                        s.ConfigureHttpJsonOptions(o => PlatformJson.Configure(o.SerializerOptions));
                        s.AddOpenApi(o =>
                        {
                            o.ShouldInclude = d => d.RelativePath?.StartsWith("api/", StringComparison.Ordinal) == true;
                            o.AddDocumentTransformer((doc, _, _) =>
                            {
                                doc.Info.Title = "Inference platform management API";
                                doc.Info.Version = "v1";
                                doc.Servers = [];
                                return Task.CompletedTask;
                            });
                        });
                        dependencies.ConfigureServices?.Invoke(s);
                    },
                    ConfigureApp = app =>
                    {
                        app.MapOpenApi("/api/openapi.json");
                        Web.WebSetup.UseHeaders(app);
                        ManagementApi.Map(app);
                        Web.WebSetup.Map(app);
                        dependencies.ConfigureApp?.Invoke(app);
                    },
                },
                logging, progress, cancellationToken).ConfigureAwait(false);
            return new PlatformHost(host, services, bootstrap, loggerFactory);
        }
        catch
        {
            await services.DisposeAsync().ConfigureAwait(false);
            loggerFactory.Dispose();
            throw;
        }
    }

    /// <summary>Drains the gateway (see <see cref="GatewayHost.DrainAsync"/>), then stops.</summary>
    public Task<bool> DrainAsync(CancellationToken cancellationToken = default) => Gateway.DrainAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Gateway.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            await Services.DisposeAsync().ConfigureAwait(false);
            _loggers.Dispose();
        }
    }
}

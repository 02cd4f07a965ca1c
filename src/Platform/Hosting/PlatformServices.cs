using Inference.Platform.Accounts;
using Inference.Platform.Audit;
using Inference.Platform.Billing;
using Inference.Platform.Data;
using Inference.Platform.Email;
using Inference.Platform.Keys;
using Inference.Platform.Organizations;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Inference.Platform.Hosting;

/// <summary>The platform's parts, built once over one database, shared by its API and the gateway it feeds.</summary>
public sealed class PlatformServices : IAsyncDisposable
{
    private readonly ServiceProvider _provider;

    private PlatformServices(ServiceProvider provider, PlatformOptions options, PlatformDatabase database)
    {
        _provider = provider;
        Options = options;
        Database = database;
    }

    public PlatformOptions Options { get; }

    public PlatformDatabase Database { get; }

    public T Get<T>()
        where T : notnull => _provider.GetRequiredService<T>();

    /// <summary>
    /// Opens the database, migrates it, loads the signing key and the gateway's first view of keys and plans. Throws
    /// when the database cannot be reached: the platform does not start without it (the gateway then serves through
    /// outages from its snapshot and spool).
    /// </summary>
    public static async Task<PlatformServices> CreateAsync(PlatformOptions options, ILoggerFactory loggerFactory, TimeProvider? time = null,
        IEmailSender? email = null, HttpMessageHandler? webhookHandler = null, CancellationToken ct = default)
    {
        IReadOnlyList<string> errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", errors));
        }

        string dataDir = Path.GetFullPath(options.DataDir);
        var database = PlatformDatabase.Parse(options.Database, dataDir);
        var services = new ServiceCollection();
        services.AddSingleton(loggerFactory);
        services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
        services.AddSingleton(time ?? TimeProvider.System);
        Register(services, options with { DataDir = dataDir }, database, email, webhookHandler);
        ServiceProvider provider = services.BuildServiceProvider();
        try
        {
            await provider.GetRequiredService<Migrator>().MigrateAsync(ct).ConfigureAwait(false);
            await provider.GetRequiredService<TokenService>().InitializeAsync(ct).ConfigureAwait(false);
            if (!await provider.GetRequiredService<PlatformKeyStore>().RefreshAsync(ct).ConfigureAwait(false))
            {
                throw new InvalidOperationException($"Cannot read keys and plans from {database.Description}.");
            }

            return new PlatformServices(provider, options with { DataDir = dataDir }, database);
        }
        catch
        {
            await provider.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Registers the platform's singletons into a host's container (the gateway's), forwarding to this instance's.</summary>
    public void AddTo(IServiceCollection services)
    {
        services.AddSingleton(Options);
        services.AddSingleton(Database);
        foreach (Type type in Shared)
        {
            services.AddSingleton(type, _ => _provider.GetRequiredService(type));
        }

        services.AddHostedService(_ => new KeyStoreRefresher(Get<PlatformKeyStore>(), Get<KeyService>(), Get<OrganizationService>(), Get<Apps.AppService>(), Options));
        services.AddHostedService(_ => Get<LedgerDeliveryService>());
        services.AddHostedService(_ => new BudgetMonitorService(Get<BudgetMonitor>(), Get<InvoiceService>(), Options, Get<TimeProvider>()));
    }

    public ValueTask DisposeAsync() => _provider.DisposeAsync();

    private static readonly Type[] Shared =
    [
        typeof(PasswordHasher), typeof(AuditLog), typeof(IEmailSender), typeof(AccountService), typeof(TokenService), typeof(OrganizationService),
        typeof(KeyService), typeof(PlatformKeyStore), typeof(UsageLedger), typeof(InvoiceService), typeof(BudgetMonitor), typeof(PaymentService),
        typeof(AdminBootstrap), typeof(Apps.AppService),
    ];

    private static void Register(IServiceCollection services, PlatformOptions options, PlatformDatabase database, IEmailSender? email, HttpMessageHandler? webhookHandler)
    {
        services.AddSingleton(options);
        services.AddSingleton(database);
        services.AddSingleton<Migrator>();
        services.AddSingleton(new PasswordHasher(options.PasswordHash));
        services.AddSingleton<AuditLog>();
        services.AddSingleton(sp => email ?? new FileEmailSender(Path.Combine(options.DataDir, "mail"), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<AccountService>();
        services.AddSingleton<TokenService>();
        services.AddSingleton<OrganizationService>();
        services.AddSingleton<KeyService>();
        services.AddSingleton<PlatformKeyStore>();
        services.AddSingleton(sp => new UsageLedger(database, Path.Combine(options.DataDir, "spool"), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<UsageLedger>>()));
        services.AddSingleton<LedgerDeliveryService>();
        services.AddSingleton<InvoiceService>();
        services.AddSingleton(sp => new BudgetMonitor(database, sp.GetRequiredService<UsageLedger>(),
            webhookHandler is null ? new HttpClient() : new HttpClient(webhookHandler, disposeHandler: false),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<BudgetMonitor>>()));
        services.AddSingleton<IPaymentProvider>(options.StripeApiKey is { } stripe ? new StripePaymentProvider(stripe) : new ManualInvoiceProvider());
        services.AddSingleton(sp => new PaymentService(database, sp.GetRequiredService<InvoiceService>(), sp.GetRequiredService<IPaymentProvider>(),
            sp.GetRequiredService<AuditLog>(), sp.GetRequiredService<TimeProvider>(), options.StripeWebhookSecret));
        services.AddSingleton<AdminBootstrap>();
        services.AddSingleton<Apps.AppService>();
    }
}

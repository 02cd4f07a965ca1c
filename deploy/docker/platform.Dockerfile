# The platform (accounts, keys, billing, dashboard) with its gateway; it routes to worker daemons (--worker URL).
# pg_dump for `backup` against PostgreSQL comes from postgresql-client.
#   docker build -f deploy/docker/platform.Dockerfile -t inference/platform .
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/Platform -c Release -o /out

FROM mcr.microsoft.com/dotnet/aspnet:10.0
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /out .
USER app
EXPOSE 8000 8001
ENTRYPOINT ["dotnet", "/app/Inference.Platform.dll"]

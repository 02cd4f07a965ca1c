# The gateway, worker-only (no libtorch: it routes to worker daemons, never runs a model itself).
#   docker build -f deploy/docker/gateway.Dockerfile -t inference/gateway .    (from the repository root)
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/Gateway -c Release -p:InferenceLocalWorker=false -o /out

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /out .
USER app
EXPOSE 8000 8001
ENTRYPOINT ["dotnet", "/app/Inference.Gateway.dll"]

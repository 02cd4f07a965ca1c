# The worker daemon with TorchSharp. TORCH_BACKEND=cpu (default) or cuda (TorchSharp-cuda-linux, for GPU nodes:
# run with the NVIDIA container toolkit; each container sees its one GPU as cuda:0). Bundles the demo model at
# /app/models/brown-llama-5m (the default --model); mount a real model and pass --model DIR.
#   docker build -f deploy/docker/worker.Dockerfile --build-arg TORCH_BACKEND=cuda -t inference/worker:cuda .
ARG TORCH_BACKEND=cpu
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
ARG TORCH_BACKEND
WORKDIR /src
COPY . .
RUN dotnet publish src/Worker -c Release -p:TorchBackend=${TORCH_BACKEND} -o /out

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /out .
COPY models/brown-llama-5m /app/models/brown-llama-5m
USER app
EXPOSE 9000
ENTRYPOINT ["dotnet", "/app/Inference.Worker.dll"]
CMD ["serve", "--host", "0.0.0.0", "--port", "9000"]

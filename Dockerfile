# BffSessions API image: build with the .NET SDK, run on the ASP.NET Core runtime as the non-root `app` user.
#
#   docker build -t bffsessions .
#   docker run --rm -p 8080:8080 -e Stripe__SecretKey=sk_test_... -v bffsessions-data:/data bffsessions
#
# Nothing secret is baked in: Stripe keys, signing keys and database passwords come from the environment or
# from key-per-file secrets mounted at /run/secrets (file name = setting with __ for :).

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
ENV DOTNET_CLI_TELEMETRY_OPTOUT=1 \
    DOTNET_NOLOGO=1
WORKDIR /source
# The image's architecture (BuildKit sets it; amd64 without BuildKit): ReadyToRun code is compiled for it.
ARG TARGETARCH

# Restore first, from the project and build files alone, so this layer is reused until a package changes.
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY src/BffSessions.Hosting/BffSessions.Hosting.csproj src/BffSessions.Hosting/
COPY src/BffSessions.Api/BffSessions.Api.csproj src/BffSessions.Api/
# The Stripe stand-in answers Development's offline mode in process; it is never used in this image's Production.
COPY tools/StripeStandIn/StripeStandIn.csproj tools/StripeStandIn/
RUN dotnet restore src/BffSessions.Api/BffSessions.Api.csproj -a "${TARGETARCH:-amd64}"

# The build runs the code-style analyzers with warnings as errors, so it needs .editorconfig; the csproj links
# the repository-root appsettings.json into the publish output.
COPY .editorconfig appsettings.json ./
COPY src/ src/
# The browser kit, embedded into the assembly and served at /bff/customer-sessions.js: the one file, not the package.
COPY clients/web/customer-sessions.js clients/web/
COPY tools/StripeStandIn/ tools/StripeStandIn/
# ReadyToRun (precompiled) code: the service is ready about a second sooner and warms up faster (docs/benchmarks.md).
RUN dotnet publish src/BffSessions.Api/BffSessions.Api.csproj -c Release -a "${TARGETARCH:-amd64}" -p:PublishReadyToRun=true \
      -o /app --no-restore


FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS final
# ASPNETCORE_HTTP_PORTS is the image's default already; stated here so the port is visible beside EXPOSE.
# The default database is SQLite in /data: mount a volume there to keep the user -> customer map (losing it
# means new Stripe customers for existing users). Set Database__Provider=Postgres and
# ConnectionStrings__Customers to use PostgreSQL instead.
ENV ASPNETCORE_HTTP_PORTS=8080 \
    ASPNETCORE_ENVIRONMENT=Production \
    ConnectionStrings__Customers="Data Source=/data/bffsessions.db"
# APP_UID (1654) is the `app` user that the aspnet image ships.
RUN mkdir -p /data && chown "$APP_UID:$APP_UID" /data
WORKDIR /app
COPY --from=build /app ./
USER $APP_UID
EXPOSE 8080
# No HEALTHCHECK: the aspnet image has no curl or wget. Probe GET /health/live (liveness) and
# GET /health/ready (readiness; 503 until the database answers) from the orchestrator instead.
ENTRYPOINT ["dotnet", "BffSessions.Api.dll"]

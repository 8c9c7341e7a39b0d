# Charter collector image: slim, non-root, health-checked. Not built in CI here (no Docker engine);
# see README "Docker".
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY collector ./collector
COPY codegen ./codegen
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 charter
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
WORKDIR /app
COPY schemas ./schemas
RUN mkdir -p /app/data && chown charter:charter /app/data
USER charter
# The example contracts hash and encrypt PII: mount a key file (`charter keys generate`) at
# /run/secrets/charter-keys.json, or the collector refuses to start and says why.
ENV CHARTER_HOST=0.0.0.0 CHARTER_PORT=8080 CHARTER_SCHEMAS=/app/schemas CHARTER_DATA_DIR=/app/data \
    CHARTER_KEYS=/run/secrets/charter-keys.json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=2).status == 200 else 1)"
ENTRYPOINT ["charter"]
CMD ["serve"]

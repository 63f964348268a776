# The kgtwin image: the `kgtwin` command, installed from this repository with pip.
# docker-compose.yml runs it three ways: `load` (one shot), `serve --ingest` (the default
# command) and `simulate-telemetry`; any other subcommand works too, e.g.
#   docker compose exec kgtwin kgtwin token create --role viewer
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /app

# Only what the package needs (.dockerignore keeps the rest out of the build context).
COPY pyproject.toml README.md ./
COPY graph ./graph
COPY ingest ./ingest
COPY ontology ./ontology
COPY server ./server
COPY simulation ./simulation
# The devkit: docker-compose.yml's `simulator` service runs `kgtwin simulate-telemetry`, one
# of its commands. Without this line the image holds the core alone.
COPY devkit ./devkit
COPY kgtwin ./kgtwin
# The cache mount (BuildKit, the default builder) keeps downloaded wheels between builds
# without putting them in a layer.
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install . \
 && rm -rf build ./*.egg-info

# Run as an unprivileged user, by number so that Kubernetes' runAsNonRoot can check it.
# /app (the sources, with ontology/sites/*.ttl for `kgtwin load`) stays owned by root.
RUN groupadd --system --gid 10001 kgtwin \
 && useradd --system --uid 10001 --gid kgtwin --create-home --home-dir /home/kgtwin kgtwin
USER 10001:10001

# Listen on every interface of the container (the default, 127.0.0.1, is for a laptop).
# KGTWIN_HOME is only used by `kgtwin neo4j` (a local Neo4j); NEO4J_URI points elsewhere here.
ENV KGTWIN_HOST=0.0.0.0 \
    KGTWIN_PORT=8000 \
    KGTWIN_HOME=/home/kgtwin/.kgtwin

EXPOSE 8000

# /healthz answers 200 when Neo4j answers, 503 otherwise (urlopen raises on both 503 and a
# refused connection). python:3.11-slim has no curl or wget. The start period covers
# loading the ontology catalogue before the server accepts requests.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c 'import os, urllib.request; urllib.request.urlopen("http://127.0.0.1:%s/healthz" % os.environ.get("KGTWIN_PORT", "8000"), timeout=4)' || exit 1

ENTRYPOINT ["kgtwin"]
CMD ["serve", "--ingest"]

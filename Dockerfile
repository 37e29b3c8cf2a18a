# syntax=docker/dockerfile:1
# One image for the data-service instances and the gateway (see compose.yaml and
# deploy/k8s/). Build: docker build -t deno-data-services:dev .
#
# Pinned to the Deno this project is built and tested with (Deno's own Debian
# image; tags follow denoland/deno_docker: <version>, debian-<version>, ...).
# Pin the digest too in production: FROM denoland/deno:debian-2.9.6@sha256:...
FROM denoland/deno:debian-2.9.6

ENV DENO_NO_UPDATE_CHECK=1 \
    DENO_NO_PROMPT=1 \
    NO_COLOR=1

WORKDIR /app

# Dependencies in their own layer: rebuilt only when deno.json or deno.lock
# change. --frozen fails the build if the lock does not match deno.json.
COPY deno.json deno.lock ./
COPY web/deno.json web/
RUN deno install --frozen

# The sources; then warm Deno's cache for the three entry points (so a container
# starts without transpiling) and bundle the gateway's dashboard.
COPY . .
RUN deno cache --frozen server/main.ts gateway/main.ts db/main.ts \
  && deno bundle --platform=browser -o web/dist/app.js web/app.ts

# Everything above belongs to root and is read-only for the app: the instance
# runs as Deno's unprivileged user and writes nothing. Numeric, so that
# Kubernetes' runAsNonRoot can verify it.
USER 1993:1993

# PORT: every protocol (gRPC, gRPC-web, Connect); FAST_PORT (PORT + 1000):
# Connect and gRPC-web only; the gateway listens on 8080 and 9080 (its fast listener).
EXPOSE 50051 51051 8080 9080

# The data-service instance, with the permissions it needs and no more:
# network (listen, Cassandra, DNS), environment (its configuration), and
# reading TLS files, which must then be mounted under /etc/dataservices.
# The gateway: run --allow-net --allow-env --allow-read=/app/web,/etc/dataservices gateway/main.ts
# The schema job: run --allow-net --allow-env db/main.ts up
CMD ["run", "--allow-net", "--allow-env", "--allow-read=/etc/dataservices", "server/main.ts"]

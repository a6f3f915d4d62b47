# syntax=docker/dockerfile:1
# edgefit images for linux/amd64 and linux/arm64, on the current Node LTS:
#   docker buildx build --platform linux/amd64,linux/arm64 --target agent -t edgefit-agent .
#   docker buildx build --platform linux/amd64,linux/arm64 --target controller -t edgefit .
# The agent image is what a device installs: the packed tarball with production dependencies
# only, nothing compiled (no better-sqlite3). Run it with the device's token in the environment:
#   docker run -e EDGEFIT_TOKEN=… edgefit-agent --broker mqtt://host:1883 --id NAME --controller http://host:8080
# On a Jetson, add `--runtime nvidia` and mount a locally built onnxruntime-node (`--onnxruntime PATH`).

ARG NODE_IMAGE=node:24-bookworm-slim

# The tarball is JavaScript only: build it once, on the build machine's own platform.
FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS pack
WORKDIR /src
# npm ≥ 11 honours package.json allowScripts; older npm reads this variable. Either way
# onnxruntime-node's install script does not download CUDA binaries (its CPU binaries
# for x64 and arm64 ship inside the package).
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
# No scripts: the build needs no native addon (better-sqlite3 is only type-checked here).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json README.md ./
COPY cli ./cli
COPY protocol ./protocol
COPY agent ./agent
COPY controller ./controller
COPY compress ./compress
COPY bench ./bench
COPY deploy ./deploy
RUN npm pack --pack-destination /out

# What a device runs: the tarball, unpacked, with its pinned production dependencies.
FROM ${NODE_IMAGE} AS agent
ENV NODE_ENV=production ONNXRUNTIME_NODE_INSTALL=skip
WORKDIR /opt
COPY --from=pack /out/edgefit-*.tgz /tmp/
RUN tar xzf /tmp/edgefit-*.tgz && mv package edgefit && rm /tmp/edgefit-*.tgz \
 && cd edgefit && npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force \
 && mkdir -p /var/lib/edgefit-agent && chown node:node /var/lib/edgefit-agent
USER node
WORKDIR /var/lib/edgefit-agent
VOLUME ["/var/lib/edgefit-agent"]
ENTRYPOINT ["node", "/opt/edgefit/dist/cli/main.js", "agent", "--state", "/var/lib/edgefit-agent"]

# The controller: the same tarball plus the SQLite addon, built where no prebuilt binary fits.
FROM ${NODE_IMAGE} AS controller-build
ENV ONNXRUNTIME_NODE_INSTALL=skip
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt
COPY --from=pack /out/edgefit-*.tgz /tmp/
RUN tar xzf /tmp/edgefit-*.tgz && mv package edgefit \
 && cd edgefit && npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm install --no-save --no-audit --no-fund better-sqlite3@12 \
 && node -e "require('better-sqlite3')(':memory:').close()"

FROM ${NODE_IMAGE} AS controller
ENV NODE_ENV=production
COPY --from=controller-build /opt/edgefit /opt/edgefit
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080 1883
ENTRYPOINT ["node", "/opt/edgefit/dist/cli/main.js"]
CMD ["controller", "--data", "/data"]

# syntax=docker/dockerfile:1
# edgefit controller and agent image, for linux/amd64 and linux/arm64:
#   docker buildx build --platform linux/amd64,linux/arm64 -t edgefit .
# Default command runs the controller; run an agent with a command override:
#   docker run edgefit agent --broker mqtt://host:1883 --id NAME --controller http://host:8080   (EDGEFIT_TOKEN in the env)

FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles its native addon when no prebuilt binary matches the platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json .npmrc ./
# Scripts stay off for the install: onnxruntime-node's would download CUDA
# binaries (its CPU binaries for x64 and arm64 ship inside the package), and
# `prepare` needs the sources that are copied below.
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm rebuild better-sqlite3
COPY tsconfig.json tsconfig.build.json ./
COPY cli ./cli
COPY protocol ./protocol
COPY agent ./agent
COPY controller ./controller
COPY compress ./compress
COPY bench ./bench
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080 1883
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["controller", "--data", "/data"]

# syntax=docker/dockerfile:1
# Build stage: compile TypeScript to dist/.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Runtime stage: production dependencies and the compiled code only.
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
# Non-root, matching runAsUser in deploy/03-deployment.yaml; nothing is written at run time, so the
# root filesystem can be mounted read-only.
USER 65532:65532
EXPOSE 8080
# An absolute path: `docker run -w /src …` (pre-commit's docker_image hooks, CI jobs that mount the
# checkout as the working directory) still finds the program. `docker run IMAGE check /manifests` runs
# `node /app/dist/main.js check /manifests`; no CMD, so no argument is added.
ENTRYPOINT ["node", "/app/dist/main.js"]

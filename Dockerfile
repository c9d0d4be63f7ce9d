# One image for the API, the worker, the image store and the simulators; docker-compose picks the
# process with `command`. Multi-stage: compile TypeScript, then ship only production dependencies.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
COPY worker ./worker
COPY api ./api
COPY scripts ./scripts
RUN npm run build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# tools.env is read at run time by src/tools.ts (versions of the embedded servers)
COPY scripts/tools.env ./scripts/tools.env
USER node
EXPOSE 3000
CMD ["node", "dist/api/main.js"]

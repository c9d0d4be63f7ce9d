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
# The web console: types regenerated from the route declarations, then the Vite bundle (web/dist).
COPY web ./web
RUN npm run build:web

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# Served by the API at / (api/web-console.ts finds it two levels up from dist/api/).
COPY --from=build /app/web/dist ./web/dist
# tools.env is read at run time by src/tools.ts (versions of the embedded servers)
COPY scripts/tools.env ./scripts/tools.env
USER node
EXPOSE 3000
CMD ["node", "dist/api/main.js"]

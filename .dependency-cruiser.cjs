// The layers of src/ and the direction between them, checked by `npm run lint:deps` (part of
// `npm test`). docs/architecture.md explains them:
//
//   composition (src/*.ts, src/cli/)  ->  api/  ->  features/*  ->  db/, shared/  ->  engine/
//
// Each layer imports only itself and the layers to its right; engine/ imports nothing of the
// project outside itself. No import cycle anywhere.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: "no-cycle", severity: "error", comment: "An import cycle: two modules that need each other belong together or need a third.", from: {}, to: { circular: true } },
    {
      name: "engine-is-pure",
      severity: "error",
      comment: "engine/ (rule format, operators, evaluators) imports nothing of the project outside itself.",
      from: { path: "^src/engine/" },
      to: { path: "^src/", pathNot: "^src/engine/" },
    },
    {
      name: "shared-is-below-everything-but-engine",
      severity: "error",
      comment: "shared/ (errors, parsing, pagination, logging) serves every layer and imports only engine/.",
      from: { path: "^src/shared/" },
      to: { path: "^src/", pathNot: "^src/(shared|engine)/" },
    },
    {
      name: "db-is-below-features",
      severity: "error",
      comment: "db/ (connections, transactions, migrations) knows no feature, route or command.",
      from: { path: "^src/db/" },
      to: { path: "^src/", pathNot: "^src/(db|shared|engine|generated)/" },
    },
    {
      name: "features-do-not-know-the-api",
      severity: "error",
      comment: "features/ hold services, repositories and models; HTTP routes and the process around them sit above.",
      from: { path: "^src/features/" },
      to: { path: "^src/", pathNot: "^src/(features|db|shared|engine|generated)/" },
    },
    {
      name: "api-does-not-know-the-process",
      severity: "error",
      comment: "api/ (routes, middleware, OpenAPI) gets its services from the composition root; it may name their type only.",
      from: { path: "^src/api/" },
      to: { path: "^src/", pathNot: "^src/(api|features|db|shared|engine)/", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "product-does-not-import-tooling",
      severity: "error",
      comment: "src/ ships; tests, benchmarks and the traffic generator do not.",
      from: { path: "^src/" },
      to: { path: "^(test|scripts|tools)/" },
    },
    {
      name: "fakes-are-for-tests",
      severity: "error",
      comment: "Fake stores (fake-*.ts) stand in for the database in unit tests; product code never uses one (and dist/ does not have them).",
      from: { path: "^src/" },
      to: { path: "(^|/)fake-[^/]*\\.ts$" },
    },
    {
      name: "prisma-client-in-db-and-features",
      severity: "error",
      comment: "The generated Prisma client is the data layer's: routes and the engine never see it.",
      from: { path: "^src/", pathNot: "^src/(db|features|generated)/" },
      to: { path: "^src/generated/" },
    },
  ],
  options: {
    doNotFollow: { path: ["node_modules", "^src/generated/"] },
    // Unit tests beside the code may reach further (the repository's rule pack, test helpers).
    exclude: { path: "\\.test\\.ts$" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js"] },
  },
};

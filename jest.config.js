// Jest: TypeScript through ts-jest (transpile only: `npm run typecheck` checks types), unit tests
// beside the code (src/**/*.test.ts), integration tests in test/. PGlite needs
// NODE_OPTIONS=--experimental-vm-modules, which the npm scripts set.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/src", "<rootDir>/test", "<rootDir>/scripts"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
  // The generated Prisma client imports its own .ts files with .js extensions.
  moduleNameMapper: { "^(\\.{1,2}/.*)\\.js$": "$1" },
  globalSetup: "<rootDir>/test/support/global-setup.js",
  // The slowest suites first, so a fresh clone's two workers end together (see the file).
  testSequencer: "<rootDir>/test/support/slow-first-sequencer.js",
  testTimeout: 60_000,
  maxWorkers: 2,
};

// Starts the real ClauseGuard server (HTTP on an ephemeral port) on a test database, with an
// admin key, a logger that stays quiet, and helpers to call it and to drain evaluation.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { generateSigningKeyPem } from "../../src/features/evidence/signing-keys";
import type { Config } from "../../src/config";
import { generateKey } from "../../src/features/auth/api-key";
import { createLogger } from "../../src/shared/logger";
import { type RunningServer, startServer } from "../../src/server";
import { type TargetKind, createTestDatabase } from "./test-database";

export const repoRulesDir = path.resolve(__dirname, "../../rules");

export type TestServer = {
  url: string;
  adminKey: string;
  running: RunningServer;
  /** fetch against the server with the admin key unless `key` says otherwise (null: no header). */
  call(method: string, urlPath: string, opts?: { body?: unknown; rawBody?: string; contentType?: string; key?: string | null }): Promise<{ status: number; body: any; headers: Headers }>;
  /** Runs evaluation batches until the queue is empty. */
  drain(): Promise<number>;
  stop(): Promise<void>;
};

let signingKeyFile: string | undefined;
/** One Ed25519 key per test process, in a file as an operator would configure it. */
export function testSigningKeyFile(): string {
  if (!signingKeyFile) {
    signingKeyFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "cg-signing-")), "signing-key.pem");
    fs.writeFileSync(signingKeyFile, generateSigningKeyPem(), { mode: 0o600 });
  }
  return signingKeyFile;
}

export function testConfig(overrides: Partial<Config> = {}): Config {
  return {
    port: 0,
    host: "127.0.0.1",
    database: { kind: "pglite", dataDir: "(the test database is passed in)" },
    adminKey: generateKey().key,
    rulesDir: repoRulesDir,
    logLevel: (process.env.TEST_LOG_LEVEL as Config["logLevel"]) ?? "silent",
    bodyLimitBytes: 10 * 1024 * 1024,
    evaluation: { pollMs: 50, batchSize: 500, leaseMs: 60_000 },
    // TEST_EVALUATOR=json-rules-engine runs the end-to-end tests on the oracle instead.
    evaluator: (process.env.TEST_EVALUATOR as Config["evaluator"] | undefined) ?? "compiled",
    ingest: { maxInFlight: 4, maxWaiting: 32, maxWaitMs: 10_000, maxBacklog: 0 },
    shutdownTimeoutMs: 5000,
    rateLimits: { perKeyPerMinute: 0, perAddressPerMinute: 0 },
    metricsPublic: true,
    corsOrigins: [],
    retentionDays: 0,
    appeals: { filingDays: 180, decisionDays: 14 },
    signing: { keyFile: testSigningKeyFile(), retiredFiles: [] },
    sharingPartners: { acme: "test-secret-shared-with-acme" },
    webhooks: { urls: [], secret: undefined, timeoutMs: 2000, maxAttempts: 3 },
    ...overrides,
  };
}

export async function startTestServer(kind: TargetKind, opts: { worker?: boolean; config?: Partial<Config>; ownThread?: boolean } = {}): Promise<TestServer> {
  const testDb = await createTestDatabase(kind, { ownThread: opts.ownThread });
  const config = testConfig(opts.config);
  const running = await startServer(config, createLogger(config.logLevel, false), { api: true, worker: opts.worker ?? false }, testDb.db);
  const url = running.url!;
  return {
    url,
    adminKey: config.adminKey!,
    running,
    async call(method, urlPath, o = {}) {
      const headers: Record<string, string> = {};
      const key = o.key === undefined ? config.adminKey : o.key;
      if (key) headers.authorization = `Bearer ${key}`;
      let body: string | undefined;
      if (o.rawBody !== undefined) body = o.rawBody;
      else if (o.body !== undefined) body = JSON.stringify(o.body);
      if (body !== undefined) headers["content-type"] = o.contentType ?? "application/json";
      const res = await fetch(`${url}${urlPath}`, { method, headers, body });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON: keep the text
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async drain() {
      let total = 0;
      for (;;) {
        const r = await running.services.evaluation.runBatch(500);
        if (r.claimed === 0) return total;
        total += r.evaluated;
      }
    },
    async stop() {
      await running.stop();
      await testDb.drop();
    },
  };
}

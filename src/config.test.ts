import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ConfigError, configVariables, loadConfig } from "./config";

const emptyDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "cg-config-"));

describe("loadConfig", () => {
  it("applies the documented defaults", () => {
    const cwd = emptyDir();
    const c = loadConfig({}, cwd);
    expect(c).toMatchObject({
      port: 8080,
      host: "127.0.0.1",
      database: { kind: "pglite", dataDir: path.join(cwd, "data") },
      adminKey: undefined,
      rulesDir: path.join(cwd, "rules"),
      logLevel: "info",
      rateLimits: { perKeyPerMinute: 6000, perAddressPerMinute: 12_000 },
      metricsPublic: true,
      corsOrigins: [],
      retentionDays: 0,
    });
  });

  it("reads the security and retention settings, and names a bad one", () => {
    const c = loadConfig({ CLAUSEGUARD_RATE_LIMIT_PER_KEY: "0", CLAUSEGUARD_METRICS_PUBLIC: "false", CLAUSEGUARD_RETENTION_DAYS: "365" }, emptyDir());
    expect(c).toMatchObject({ rateLimits: { perKeyPerMinute: 0 }, metricsPublic: false, retentionDays: 365 });
    expect(() => loadConfig({ CLAUSEGUARD_RETENTION_DAYS: "30" }, emptyDir())).toThrow(/CLAUSEGUARD_RETENTION_DAYS: must be 0 \(keep every event\) or at least 91/);
    expect(() => loadConfig({ CLAUSEGUARD_METRICS_PUBLIC: "yes" }, emptyDir())).toThrow(/CLAUSEGUARD_METRICS_PUBLIC: must be true or false/);
    expect(() => loadConfig({ CLAUSEGUARD_RATE_LIMIT_PER_ADDRESS: "-1" }, emptyDir())).toThrow(/CLAUSEGUARD_RATE_LIMIT_PER_ADDRESS/);
    expect(loadConfig({ CLAUSEGUARD_CORS_ORIGINS: "https://console.example.com, http://localhost:5173" }, emptyDir()).corsOrigins).toEqual(["https://console.example.com", "http://localhost:5173"]);
    expect(() => loadConfig({ CLAUSEGUARD_CORS_ORIGINS: "*" }, emptyDir())).toThrow(/CLAUSEGUARD_CORS_ORIGINS: must be comma-separated origins/);
    expect(() => loadConfig({ CLAUSEGUARD_CORS_ORIGINS: "https://a.example/path" }, emptyDir())).toThrow(/CLAUSEGUARD_CORS_ORIGINS/);
  });

  it("evaluates with the compiled evaluator unless told json-rules-engine, and names a bad choice", () => {
    expect(loadConfig({}, emptyDir()).evaluator).toBe("compiled");
    expect(loadConfig({ CLAUSEGUARD_EVALUATOR: "json-rules-engine" }, emptyDir()).evaluator).toBe("json-rules-engine");
    expect(() => loadConfig({ CLAUSEGUARD_EVALUATOR: "jre" }, emptyDir())).toThrow(/CLAUSEGUARD_EVALUATOR: must be one of compiled, json-rules-engine/);
  });

  it("judges account-scope rules per batch unless told per minute, and names a bad choice", () => {
    expect(loadConfig({}, emptyDir()).evaluation.cadence).toBe("batch");
    expect(loadConfig({ CLAUSEGUARD_EVAL_CADENCE: "minute" }, emptyDir()).evaluation.cadence).toBe("minute");
    expect(() => loadConfig({ CLAUSEGUARD_EVAL_CADENCE: "hourly" }, emptyDir())).toThrow(/CLAUSEGUARD_EVAL_CADENCE: must be one of batch, minute/);
  });

  it("takes the evaluation thread's nice value from 0 to 19, and names a bad one", () => {
    expect(loadConfig({}, emptyDir()).evaluation.nice).toBe(0);
    expect(loadConfig({ DATABASE_URL: "postgresql://127.0.0.1/x" }, emptyDir()).evaluation.nice).toBe(10);
    expect(loadConfig({ CLAUSEGUARD_EVAL_NICE: "0" }, emptyDir()).evaluation.nice).toBe(0);
    for (const bad of ["20", "-1", "1.5", "low"]) expect(() => loadConfig({ CLAUSEGUARD_EVAL_NICE: bad }, emptyDir())).toThrow(/CLAUSEGUARD_EVAL_NICE/);
  });

  it("uses PostgreSQL when DATABASE_URL is set", () => {
    expect(loadConfig({ DATABASE_URL: "postgresql://u@h:5432/db" }, emptyDir()).database).toEqual({ kind: "postgres", url: "postgresql://u@h:5432/db" });
  });

  it("names every bad variable", () => {
    try {
      loadConfig({ PORT: "eighty", DATABASE_URL: "mysql://x", LOG_LEVEL: "loud", CLAUSEGUARD_ADMIN_KEY: "short" }, emptyDir());
      throw new Error("expected a ConfigError");
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const vars = (err as ConfigError).issues.map((i) => i.variable).sort();
      expect(vars).toEqual(["CLAUSEGUARD_ADMIN_KEY", "DATABASE_URL", "LOG_LEVEL", "PORT"]);
      expect((err as Error).message).toContain("PORT:");
    }
  });

  it("reads .env for what the environment leaves unset, and the environment wins", () => {
    const cwd = emptyDir();
    fs.writeFileSync(path.join(cwd, ".env"), "PORT=9090\nHOST=0.0.0.0\nLOG_LEVEL=debug\n");
    const c = loadConfig({ HOST: "127.0.0.2", LOG_LEVEL: "" }, cwd);
    expect(c.port).toBe(9090);
    expect(c.host).toBe("127.0.0.2");
    expect(c.logLevel).toBe("debug");
  });

  it("rejects an out-of-range port", () => {
    expect(() => loadConfig({ PORT: "70000" }, emptyDir())).toThrow(/PORT/);
  });

  it("has every variable documented in .env.example, whose values all load", () => {
    const example = fs.readFileSync(path.join(__dirname, "..", ".env.example"), "utf8");
    const documented = [...example.matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual([...configVariables].sort());
    const cwd = emptyDir();
    fs.copyFileSync(path.join(__dirname, "..", ".env.example"), path.join(cwd, ".env"));
    expect(() => loadConfig({}, cwd)).not.toThrow();
  });
});

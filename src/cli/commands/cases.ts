// `clauseguard cases export`: the cases matching the filters, from a running server to CSV or NDJSON.
import fs from "node:fs";
import { type Command, Option } from "commander";
import { type CaseFilters, exportCases, severityHelp, statusHelp } from "../case-export";
import { type ServerOptions, apiOf, serverOptions } from "../command-options";
import { OperatorError, exitCodes } from "../operator-error";

export function registerCasesCommands(program: Command): void {
  const cases = program.command("cases").description("work with violation cases on a running server");
  serverOptions(
    cases
      .command("export")
      .description("write every case matching the filters (those of GET /v1/cases) as CSV or NDJSON")
      .addOption(new Option("--format <format>", "output format").choices(["csv", "ndjson"]).default("csv"))
      .option("--out <file>", "write to a new file instead of standard output")
      .option("--status <status>", statusHelp)
      .option("--severity <severity>", severityHelp)
      .option("--rule-id <id>", "one rule")
      .option("--account-id <id>", "one account")
      .option("--assignee <name>", "one assignee")
      .option("--from <date>", "ISO 8601: cases active since")
      .option("--to <date>", "ISO 8601: cases active before"),
  ).action(async (opts: ServerOptions & { format: "csv" | "ndjson"; out?: string } & Record<string, string | undefined>) => {
    const api = apiOf(opts);
    const filters: CaseFilters = { status: opts.status, severity: opts.severity, ruleId: opts.ruleId, accountId: opts.accountId, assignee: opts.assignee, from: opts.from, to: opts.to };
    if (opts.out && fs.existsSync(opts.out)) throw new OperatorError(`${opts.out} already exists: choose another file name`, exitCodes.usage);
    const out = opts.out ? fs.createWriteStream(opts.out, { flags: "wx" }) : process.stdout;
    try {
      const n = await exportCases({ api, filters, format: opts.format, out });
      if (opts.out) process.stderr.write(`exported ${n} case(s) to ${opts.out}\n`);
    } catch (err) {
      if (opts.out) fs.rmSync(opts.out, { force: true });
      throw err;
    } finally {
      if (opts.out) await new Promise((r) => (out as fs.WriteStream).end(r));
    }
  });
}

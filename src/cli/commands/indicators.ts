// `clauseguard indicators export|import`: STIX 2.1 indicator bundles to and from a sharing partner,
// through a running server (GET /v1/indicators, POST /v1/indicators/import).
import fs from "node:fs";
import type { Command } from "commander";
import { type ServerOptions, apiOf, parseDate, serverOptions } from "../command-options";
import { OperatorError, exitCodes } from "../operator-error";

export function registerIndicatorsCommands(program: Command): void {
  const indicators = program.command("indicators").description("share indicators of confirmed operations with partners (STIX 2.1)");
  serverOptions(
    indicators
      .command("export")
      .description("write a STIX 2.1 bundle for a sharing partner: one case, or a rule's confirmed cases over a period")
      .requiredOption("--partner <name>", "the partner (CLAUSEGUARD_SHARING_PARTNERS) whose secret keys the hashes")
      .option("--case-id <id>", "one confirmed, enforced or resolved case")
      .option("--rule-id <id>", "every such case of this rule active in [--from, --to)")
      .option("--from <date>", "ISO 8601 start", parseDate)
      .option("--to <date>", "ISO 8601 end", parseDate)
      .option("--out <file>", "write to a new file instead of standard output"),
  ).action(async (opts: ServerOptions & { partner: string; caseId?: string; ruleId?: string; from?: Date; to?: Date; out?: string }) => {
    if (!opts.caseId && !(opts.ruleId && opts.from && opts.to)) throw new OperatorError("give --case-id, or --rule-id with --from and --to", exitCodes.usage);
    if (opts.out && fs.existsSync(opts.out)) throw new OperatorError(`${opts.out} already exists: choose another file name`, exitCodes.usage);
    const q = new URLSearchParams({ partner: opts.partner, ...(opts.caseId ? { caseId: opts.caseId } : { ruleId: opts.ruleId!, from: opts.from!.toISOString(), to: opts.to!.toISOString() }) });
    const bundle = await apiOf(opts).request<{ objects: unknown[] }>("GET", `/v1/indicators?${q.toString()}`);
    const text = `${JSON.stringify(bundle, null, 2)}\n`;
    if (opts.out) {
      fs.writeFileSync(opts.out, text, { flag: "wx" });
      process.stderr.write(`wrote ${bundle.objects.length} indicator(s) to ${opts.out}\n`);
    } else process.stdout.write(text);
  });
  serverOptions(
    indicators
      .command("import <file>")
      .description("import a partner's STIX 2.1 bundle as a named source: checked in full, all or nothing")
      .requiredOption("--source <name>", "the partner (CLAUSEGUARD_SHARING_PARTNERS) the bundle comes from"),
  ).action(async (file: string, opts: ServerOptions & { source: string }) => {
    let bundle: unknown;
    try {
      bundle = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (err) {
      throw new OperatorError(`${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : `not valid JSON (${(err as Error).message})`}`, exitCodes.usage);
    }
    const r = await apiOf(opts).request<{ imported: number; ignored: number; held: number }>("POST", `/v1/indicators/import?source=${encodeURIComponent(opts.source)}`, bundle);
    process.stdout.write(`imported ${r.imported} indicator(s) from ${opts.source} (${r.ignored} object(s) ignored); ${r.held} held from it\n`);
  });
}

// `clauseguard rules validate|backtest`: the policy pack checked, and one rule file replayed over stored events.
import fs from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { loadConfig } from "../../config";
import { ruleCompiler } from "../../engine/rule-compiler";
import { loadLinkPolicy } from "../../features/events/link-policy";
import { createBacktestService } from "../../features/rules/backtest";
import { type RuleFile, loadRules } from "../../features/rules/rule-files";
import { loadNotice } from "../../features/statements/notice-templates";
import { createLogger } from "../../shared/logger";
import { openMigratedDatabase } from "../../server";
import { parseDate } from "../command-options";
import { OperatorError, exitCodes } from "../operator-error";

export function registerRulesCommands(program: Command): void {
  const rules = program.command("rules").description("work with the policy pack");
  rules
    .command("validate [paths...]")
    .description("validate rule files and folders of them (default: CLAUSEGUARD_RULES_DIR); exit 4 with every fault")
    .action((paths: string[]) => {
      const dirs = paths.length ? paths : [loadConfig().rulesDir];
      const files = loadRules(dirs);
      process.stdout.write(`${files.length} rule file(s) valid: ${files.map((f) => f.rule.id).join(", ")}\n`);
      // A folder's link policy (links/) is part of the pack: checked with it.
      for (const dir of dirs.filter((d) => fs.existsSync(path.join(d, "links")))) {
        const policy = loadLinkPolicy(dir);
        process.stdout.write(`link policy of ${dir} valid: ${policy.lists.map((l) => `${l.name} (${l.prefixes} prefixes)`).join(", ") || "no network lists"}\n`);
      }
      // So are its statement templates (notices/default.json).
      for (const dir of dirs.filter((d) => fs.existsSync(path.join(d, "notices", "default.json")))) {
        process.stdout.write(`notice of ${dir} valid: ${loadNotice(dir).version}\n`);
      }
    });
  rules
    .command("backtest <file>")
    .description("replay stored events through a rule file without creating cases; prints the result as JSON")
    .requiredOption("--from <date>", "ISO 8601 start of the range", parseDate)
    .requiredOption("--to <date>", "ISO 8601 end of the range", parseDate)
    .action(async (file: string, opts: { from: Date; to: Date }) => {
      if (opts.to <= opts.from) throw new OperatorError("--to must be after --from", exitCodes.usage);
      const [{ rule }] = loadRules([file]) as [RuleFile];
      const config = loadConfig();
      const db = await openMigratedDatabase(config, createLogger("warn"));
      try {
        // The configured evaluator, as the server's backtests and evaluation use.
        const result = await createBacktestService(db, ruleCompiler(config.evaluator), loadLinkPolicy(config.rulesDir).hubLimits, config.sharingPartners).run({ rule, version: null, from: opts.from, to: opts.to }, {
          onProgress: (p) => process.stderr.write(`backtest: ${p.eventsRead} events read, ${p.accountsEvaluated} accounts, ${p.accountsHit} hit\n`),
        });
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      } finally {
        await db.close();
      }
    });
}

// Process entry: the `clauseguard` command line, assembled from one module per command group (src/cli/commands/).
import { Command } from "commander";
import { registerBackupCommands } from "./cli/commands/backup";
import { registerCasesCommands } from "./cli/commands/cases";
import { registerEvaluationCommands } from "./cli/commands/evaluation";
import { registerEventsCommands } from "./cli/commands/events";
import { registerEvidenceCommands } from "./cli/commands/evidence";
import { registerIndicatorsCommands } from "./cli/commands/indicators";
import { registerListsCommands } from "./cli/commands/lists";
import { registerKeysCommands } from "./cli/commands/keys";
import { registerMigrateCommands } from "./cli/commands/migrate";
import { registerRulesCommands } from "./cli/commands/rules";
import { registerServeCommands } from "./cli/commands/serve";
import { exitCodes, toOperatorError } from "./cli/operator-error";

export function buildCli(): Command {
  const program = new Command("clauseguard")
    .description("ClauseGuard: terms-of-service compliance rules engine")
    .showHelpAfterError()
    // Before any command is added: commands inherit it. Commander's errors reach main() (toOperatorError).
    .exitOverride();
  // In the order of `clauseguard --help`.
  registerServeCommands(program);
  registerMigrateCommands(program);
  registerEvaluationCommands(program);
  registerBackupCommands(program);
  registerEventsCommands(program);
  registerCasesCommands(program);
  registerEvidenceCommands(program);
  registerIndicatorsCommands(program);
  registerListsCommands(program);
  registerKeysCommands(program);
  registerRulesCommands(program);
  return program;
}

export async function main(argv = process.argv): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (err) {
    const known = toOperatorError(err);
    if (known) {
      // Commander has printed its own messages (usage errors, help).
      if (known.exitCode !== exitCodes.ok && !/^\(outputHelp\)|^error: /.test(known.message)) process.stderr.write(`clauseguard: ${known.message}\n`);
      process.exit(known.exitCode);
    }
    process.stderr.write(`clauseguard: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(exitCodes.failure);
  }
}

if (require.main === module) void main();

// The command line's one error type: OperatorError carries its exit code; toOperatorError maps other errors to it.
import { SigningKeyError } from "../features/evidence/signing-keys";
import { CommanderError } from "commander";
import { ConfigError } from "../config";
import { BackupError } from "../db/backup";
import { DatabaseInUseError } from "../db/database";
import { MigrationError } from "../db/migrator";
import { LinkPolicyError } from "../features/events/link-policy";
import { RuleFileError } from "../features/rules/rule-files";
import { AppError } from "../shared/errors";
import { ApiError } from "./api-client";
import { ImportFileError } from "./event-import";

/** Exit codes scripts can rely on. */
export const exitCodes = { ok: 0, failure: 1, usage: 2, config: 3, invalidRules: 4, rejected: 5 } as const;

/** An error the operator can act on: `clauseguard: <message>` on stderr, and its exit code. */
export class OperatorError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/**
 * The operator's view of an error thrown by a command, or undefined for one nobody expected (a bug:
 * main prints its stack). Commander's own (usage, help) have printed their message already.
 */
export function toOperatorError(err: unknown): OperatorError | undefined {
  if (err instanceof OperatorError) return err;
  if (err instanceof CommanderError) return new OperatorError(err.message, err.exitCode === 0 ? exitCodes.ok : exitCodes.usage);
  if (err instanceof ConfigError || err instanceof SigningKeyError) return new OperatorError(err.message, exitCodes.config);
  if (err instanceof RuleFileError || err instanceof LinkPolicyError) return new OperatorError(err.message, exitCodes.invalidRules);
  if (
    err instanceof MigrationError ||
    err instanceof DatabaseInUseError ||
    err instanceof AppError ||
    err instanceof BackupError ||
    err instanceof ApiError ||
    err instanceof ImportFileError
  ) {
    return new OperatorError(err.message, exitCodes.failure);
  }
  return undefined;
}

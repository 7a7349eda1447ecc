// `clauseguard lists import|show`: named lists through a running server (docs/rule-lifecycle.md#named-lists).
import { type Command, InvalidArgumentError } from "commander";
import { type ServerOptions, apiOf, serverOptions } from "../command-options";
import { importList, readListValues } from "../list-import";
import { listNameMessage, listNamePattern } from "../../engine/named-lists";
import { type ListMode, listModes } from "../../features/lists/list-views";
import type { ListDetail } from "../../features/lists/list-views";
import { ImportFileError } from "../event-import";
import { OperatorError, exitCodes } from "../operator-error";

function parseListName(value: string): string {
  if (!listNamePattern.test(value)) throw new OperatorError(`<name> ${listNameMessage}`, exitCodes.usage);
  return value;
}

function parseMode(value: string): ListMode {
  if (!(listModes as readonly string[]).includes(value)) throw new InvalidArgumentError(`must be one of ${listModes.join(", ")}`);
  return value as ListMode;
}

export function registerListsCommands(program: Command): void {
  const lists = program.command("lists").description("named lists that rules test with inList / notInList { list }");
  serverOptions(
    lists
      .command("import <name> <file>")
      .description("replace, add or remove a list's values from a .csv (first column, or --column) or .ndjson file: checked whole, one transaction")
      .option("--mode <mode>", `${listModes.join(" | ")}`, parseMode, "replace" as ListMode)
      .option("--column <name>", "the CSV column holding the values (default: the first)")
      .option("--create", "create the list first when it does not exist")
      .option("--description <text>", "the description of a list --create makes"),
  ).action(async (name: string, file: string, opts: ServerOptions & { mode: ListMode; column?: string; create?: boolean; description?: string }) => {
    parseListName(name);
    let values: string[];
    try {
      values = await readListValues(file, opts.column);
    } catch (err) {
      if (err instanceof ImportFileError) throw new OperatorError(err.message, exitCodes.usage);
      throw err;
    }
    const started = Date.now();
    const r = await importList({ api: apiOf(opts), name, values, mode: opts.mode, create: opts.create, description: opts.description });
    process.stdout.write(
      `${name}: version ${r.change.version}, ${r.change.added} added, ${r.change.removed} removed, ${r.change.size} entries (${values.length} values read, ${Date.now() - started} ms)\n`,
    );
  });
  serverOptions(lists.command("show <name>").description("a list, the rules naming it, and its newest changes")).action(async (name: string, opts: ServerOptions) => {
    const l = await apiOf(opts).request<ListDetail>("GET", `/v1/lists/${encodeURIComponent(parseListName(name))}`);
    process.stdout.write(`${JSON.stringify(l, null, 2)}\n`);
  });
}

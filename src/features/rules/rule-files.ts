// Reads the policy pack (rules/*.json): each file parsed and validated, every fault reported with
// the file name and JSON path. `<id>.cases.json` files hold test cases and are not rules.
import fs from "node:fs";
import path from "node:path";
import { type RuleDocument, validateRule } from "../../engine/rule-schema";

export type RuleFile = { file: string; rule: RuleDocument };

export class RuleFileError extends Error {
  override name = "RuleFileError";
  constructor(readonly faults: { file: string; path: string; message: string }[]) {
    super(`invalid rule files:\n${faults.map((f) => `  ${f.file}${f.path ? ` at ${f.path}` : ""}: ${f.message}`).join("\n")}`);
  }
}

type Fault = RuleFileError["faults"][number];

/** Reads and validates one rule file; its faults, or the rule. */
export function readRuleFile(file: string): { rule?: RuleDocument; faults: Fault[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : `not valid JSON: ${(err as Error).message}`;
    return { faults: [{ file, path: "", message: reason }] };
  }
  const v = validateRule(parsed);
  if (!v.ok) return { faults: v.errors.map((e) => ({ file, ...e })) };
  if (`${v.rule.id}.json` !== path.basename(file)) {
    return { faults: [{ file, path: "id", message: `the file of rule '${v.rule.id}' must be named ${v.rule.id}.json` }] };
  }
  return { rule: v.rule, faults: [] };
}

/** Validates rule files and folders of rule files together: every fault, and duplicate ids across them. */
export function loadRules(paths: string[]): RuleFile[] {
  const expanded = paths.flatMap((p) =>
    fs.existsSync(p) && fs.statSync(p).isDirectory()
      ? fs.readdirSync(p).filter((n) => n.endsWith(".json") && !n.endsWith(".cases.json")).sort().map((n) => path.join(p, n))
      : [p],
  );
  const files = [...new Map(expanded.map((f) => [path.resolve(f), f])).values()];
  const faults: Fault[] = [];
  const loaded: RuleFile[] = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    const r = readRuleFile(file);
    faults.push(...r.faults);
    if (!r.rule) continue;
    const other = seen.get(r.rule.id);
    if (other) faults.push({ file, path: "id", message: `rule id '${r.rule.id}' is also defined in ${other}` });
    seen.set(r.rule.id, file);
    loaded.push({ file, rule: r.rule });
  }
  if (faults.length) throw new RuleFileError(faults);
  return loaded;
}

/** The policy pack: every rules/<id>.json of the folder (none when the folder does not exist). */
export function loadRuleFiles(dir: string): RuleFile[] {
  return fs.existsSync(dir) ? loadRules([dir]) : [];
}

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

export function loadRuleFiles(dir: string): RuleFile[] {
  if (!fs.existsSync(dir)) return [];
  const names = fs
    .readdirSync(dir)
    .filter((n) => n.endsWith(".json") && !n.endsWith(".cases.json"))
    .sort();
  const faults: RuleFileError["faults"] = [];
  const loaded: RuleFile[] = [];
  const seen = new Map<string, string>();
  for (const name of names) {
    const file = path.join(dir, name);
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (err) {
      faults.push({ file, path: "", message: `not valid JSON: ${(err as Error).message}` });
      continue;
    }
    const v = validateRule(parsed);
    if (!v.ok) {
      faults.push(...v.errors.map((e) => ({ file, ...e })));
      continue;
    }
    if (`${v.rule.id}.json` !== name) {
      faults.push({ file, path: "id", message: `the file of rule '${v.rule.id}' must be named ${v.rule.id}.json` });
      continue;
    }
    const other = seen.get(v.rule.id);
    if (other) faults.push({ file, path: "id", message: `rule id '${v.rule.id}' is also defined in ${other}` });
    seen.set(v.rule.id, file);
    loaded.push({ file, rule: v.rule });
  }
  if (faults.length) throw new RuleFileError(faults);
  return loaded;
}

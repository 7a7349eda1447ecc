// The documentation in docs/ is the contract someone who clones the repository reads: it must name
// every fact and every operator and decorator a rule can use, and every endpoint the server has.
import fs from "node:fs";
import path from "node:path";
import { factCatalog } from "../src/engine/fact-catalog";
import { builtinOperators, customOperators, operatorDecorators } from "../src/engine/operators";
import { operations } from "../src/api/openapi";

const docs = (name: string) => fs.readFileSync(path.join(__dirname, "..", "docs", name), "utf8");

describe("docs/", () => {
  it("names every fact, operator and decorator of the rule format in contract.md or rules.md", () => {
    const text = docs("contract.md") + docs("rules.md");
    const names = [...Object.keys(factCatalog), ...Object.keys(builtinOperators), ...Object.keys(customOperators), ...operatorDecorators];
    expect(names.filter((n) => !text.includes(`\`${n}\``))).toEqual([]);
  });

  it("lists every endpoint of the OpenAPI document in api.md", () => {
    const text = docs("api.md");
    const missing = operations.map((o) => `${o.method.toUpperCase()} ${o.path}`).filter((op) => !text.includes(`\`${op}\``));
    expect(missing).toEqual([]);
  });

  it("has the architecture page the lint configuration and README point at", () => {
    expect(docs("architecture.md")).toMatch(/```[\s\S]*gateway[\s\S]*```/);
  });
});

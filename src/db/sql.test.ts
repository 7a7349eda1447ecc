import { raw, sql } from "./sql";

describe("sql", () => {
  it("numbers parameters, splices raw text and nested fragments with their own parameters", () => {
    const inner = sql`b = ${2} AND c = ${3}`;
    const q = sql`SELECT ${raw("x")} FROM t WHERE a = ${1} AND (${inner}) AND d = ${4}`;
    expect(q).toEqual({ text: "SELECT x FROM t WHERE a = $1 AND (b = $2 AND c = $3) AND d = $4", values: [1, 2, 3, 4] });
  });

  it("passes arrays and objects that are not fragments as parameters", () => {
    expect(sql`a = ANY(${["x", "y"]}) AND j = ${{ text: 1 }}`.values).toEqual([["x", "y"], { text: 1 }]);
  });
});

import { linkScopesOf } from "./window-needs";

describe("linkScopesOf", () => {
  it("finds the scopes of linked facts in conditions and in the facts their values refer to, any by default", () => {
    const conditions = {
      all: [
        { fact: "requestCount", operator: "greaterThan", value: 10, params: { window: "1h" } },
        { fact: "linkedAccounts", operator: "greaterThan", value: 3 },
        {
          not: {
            any: [
              { fact: "clusterSignalRate", operator: "greaterThan", value: 0.5, params: { by: "ipPrefix", signal: "r" } },
              { fact: "outputTokens", operator: "lessThan", value: { fact: "clusterOutputTokens", params: { by: "orgId" } } },
            ],
          },
        },
      ],
    };
    expect(linkScopesOf(conditions)).toEqual(["any", "ipPrefix", "orgId"]);
  });

  it("finds none where no linked fact is read, and ignores what is not a scope", () => {
    expect(linkScopesOf({ any: [{ fact: "requestCount", operator: "greaterThan", value: 1, params: { by: "ipPrefix" } }] })).toEqual([]);
    expect(linkScopesOf({ any: [{ fact: "linkedAccounts", operator: "greaterThan", value: 1, params: { by: "nonsense" } }] })).toEqual([]);
    expect(linkScopesOf(null)).toEqual([]);
  });
});

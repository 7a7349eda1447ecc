import { AppError } from "../../shared/errors";
import { ParseFailure } from "../../shared/parse";
import { parseProfileItems, profileChangesOf } from "./account-profile";

const pathsOf = (items: unknown[]) => {
  try {
    parseProfileItems(items);
  } catch (err) {
    if (err instanceof AppError) return (err.errors ?? []).map((d) => d.path);
    throw err;
  }
  return [];
};

describe("profile fields carried by events", () => {
  const ev = (accountId: string, occurredAt: string, extra: Record<string, string | null>) => ({ accountId, occurredAt, ...extra });

  it("takes each field from the account's latest event that has it, and nothing when no event has any", () => {
    expect(profileChangesOf([ev("a", "2026-11-20T10:00:00Z", {}), ev("b", "2026-11-20T10:00:00Z", { accountPlan: null })])).toEqual([]);
    expect(
      profileChangesOf([
        ev("a", "2026-11-20T10:05:00Z", { accountPlan: "pro", accountCreatedAt: "2024-01-01T00:00:00.000Z" }),
        ev("a", "2026-11-20T10:01:00Z", { accountPlan: "free", accountVerification: "phone" }),
        ev("b", "2026-11-20T10:00:00Z", { accountVerification: "id" }),
        ev("a", "2026-11-20T10:09:00Z", {}),
      ]),
    ).toEqual([
      { accountId: "a", plan: "pro", createdAt: "2024-01-01T00:00:00.000Z", verification: "phone" },
      { accountId: "b", verification: "id" },
    ]);
  });
});

describe("a bulk profile request", () => {
  it("is checked whole: every fault with its index, an account twice, an item that sets nothing", () => {
    expect(pathsOf([{ accountId: "a", plan: "pro" }, { accountId: "b", createdAt: "2020-01-01T00:00:00Z" }])).toEqual([]);
    expect(pathsOf([{ accountId: "a", plan: "p r o" }, { accountId: "a", plan: "x" }, { accountId: "a", plan: "y" }, { accountId: "c" }, new ParseFailure("line is not valid JSON")])).toEqual([
      "[0].plan",
      "[2].accountId",
      "[3]",
      "[4]",
    ]);
    expect(pathsOf([])).toEqual([""]);
    expect(pathsOf(Array.from({ length: 10_001 }, (_, i) => ({ accountId: `a${i}`, plan: "p" })))).toEqual([""]);
  });
});

// Factories for test inputs with overrides: usage events and rule documents.
let seq = 0;

export function usageEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  seq++;
  return {
    eventId: `evt_${process.pid}_${seq}_${Math.random().toString(36).slice(2, 8)}`,
    occurredAt: "2026-11-24T12:00:00Z",
    accountId: "acct_1",
    model: "frontier-large",
    inputTokens: 1200,
    outputTokens: 800,
    ...overrides,
  };
}

export function ruleDocument(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: "test.rule",
    name: "Test rule",
    description: "A rule made by a test.",
    clause: { ref: "Terms 1(a)", text: "Do not do the thing." },
    severity: "high",
    scope: "account",
    window: "24h",
    enabled: true,
    recommendedAction: "none",
    conditions: { all: [{ fact: "outputTokens", operator: "greaterThan", value: 1000 }] },
    ...overrides,
  };
}

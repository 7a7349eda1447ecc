// Writes of violation cases on the evaluation path: open a case for a hit, or add the hit to the
// account's active case for the rule (or to a case dismissed less than 7 days earlier).
import { randomUUID } from "node:crypto";
import type { Prisma } from "../../generated/prisma/client";
import type { Db } from "../../db/transaction";
import type { ConditionExplanation } from "../../engine/evaluation";
import type { RuleDocument } from "../../engine/rule-schema";
import type { WebhookOutbox } from "../webhooks/webhook-outbox";

export const activeStatuses = ["open", "investigating", "confirmed", "enforced"] as const;
export const dismissalCooldownMs = 7 * 86_400_000;
export const maxEvidencePerCase = 20;

export type Hit = {
  accountId: string;
  rule: RuleDocument;
  version: number;
  occurredAt: Date;
  triggerEventId: string;
  window: string;
  conditions: ConditionExplanation[];
  eventIds: string[];
  linkedAccounts: string[];
};

export type HitOutcome = { caseId: string; effect: "opened" | "updated" | "counted-on-dismissed" };

export function newCaseId(): string {
  return `case_${randomUUID().replace(/-/g, "")}`;
}

/** Call inside a transaction that holds the account's evaluation lock. */
export async function openOrUpdateCase(tx: Db, hit: Hit, now: Date, outbox?: WebhookOutbox): Promise<HitOutcome> {
  const active = await tx.violationCase.findFirst({
    where: { accountId: hit.accountId, ruleId: hit.rule.id, status: { in: [...activeStatuses] } },
    select: { id: true, lastSeenAt: true },
  });
  if (active) {
    await countHit(tx, active.id, hit, { activityAt: now, linkedAccounts: hit.linkedAccounts, ruleVersion: hit.version });
    return { caseId: active.id, effect: "updated" };
  }
  const dismissed = await tx.violationCase.findFirst({
    where: {
      accountId: hit.accountId,
      ruleId: hit.rule.id,
      status: "dismissed",
      dismissedAt: { gt: new Date(hit.occurredAt.getTime() - dismissalCooldownMs) },
    },
    orderBy: { dismissedAt: "desc" },
    select: { id: true },
  });
  if (dismissed) {
    // Counted, so the analyst sees it continued, but not reopened: the dismissal stands for its cool-down.
    await countHit(tx, dismissed.id, hit, {});
    return { caseId: dismissed.id, effect: "counted-on-dismissed" };
  }
  const id = newCaseId();
  await tx.violationCase.create({
    data: {
      id,
      accountId: hit.accountId,
      ruleId: hit.rule.id,
      ruleVersion: hit.version,
      clauseRef: hit.rule.clause.ref,
      clauseText: hit.rule.clause.text,
      severity: hit.rule.severity,
      status: "open",
      firstSeenAt: hit.occurredAt,
      lastSeenAt: hit.occurredAt,
      hitCount: 1,
      linkedAccounts: hit.linkedAccounts,
      createdAt: now,
      activityAt: now,
    },
  });
  await tx.caseTimelineEntry.create({
    data: {
      caseId: id,
      at: now,
      actor: `rule:${hit.rule.id}@${hit.version}`,
      kind: "opened",
      toStatus: "open",
      detail: { triggerEventId: hit.triggerEventId },
    },
  });
  await addEvidence(tx, id, hit);
  await outbox?.notify(
    tx,
    "case.opened",
    { caseId: id, accountId: hit.accountId, ruleId: hit.rule.id, ruleVersion: hit.version, severity: hit.rule.severity, clause: hit.rule.clause, firstSeenAt: hit.occurredAt.toISOString() },
    now,
  );
  return { caseId: id, effect: "opened" };
}

async function countHit(
  tx: Db,
  caseId: string,
  hit: Hit,
  extra: { activityAt?: Date; linkedAccounts?: string[]; ruleVersion?: number },
): Promise<void> {
  await tx.$executeRaw`
    UPDATE violation_case SET hit_count = hit_count + 1,
      last_seen_at = GREATEST(last_seen_at, ${hit.occurredAt}),
      first_seen_at = LEAST(first_seen_at, ${hit.occurredAt})
    WHERE id = ${caseId}`;
  if (extra.activityAt || extra.linkedAccounts || extra.ruleVersion) {
    await tx.violationCase.update({
      where: { id: caseId },
      data: {
        ...(extra.activityAt ? { activityAt: extra.activityAt } : {}),
        ...(extra.linkedAccounts ? { linkedAccounts: extra.linkedAccounts } : {}),
        ...(extra.ruleVersion ? { ruleVersion: extra.ruleVersion } : {}),
      },
    });
  }
  await addEvidence(tx, caseId, hit);
}

async function addEvidence(tx: Db, caseId: string, hit: Hit): Promise<void> {
  await tx.caseEvidence.create({
    data: {
      caseId,
      ruleVersion: hit.version,
      triggerEventId: hit.triggerEventId,
      occurredAt: hit.occurredAt,
      window: hit.window,
      conditions: hit.conditions as unknown as Prisma.InputJsonValue,
      eventIds: hit.eventIds,
    },
  });
  // Keep the newest evidence only (by the hit's time, so the same hits keep the same evidence in
  // whatever order they were judged): the case's size must not grow with its hit count.
  await tx.$executeRaw`
    DELETE FROM case_evidence WHERE case_id = ${caseId} AND id NOT IN (
      SELECT id FROM case_evidence WHERE case_id = ${caseId} ORDER BY occurred_at DESC, id DESC LIMIT ${maxEvidencePerCase})`;
}

// Statements of reasons (docs/due-process.md): composed from the case, its newest evidence and the
// enforcement, rendered from the notice template, written in the transaction of the change they
// report (never changed afterwards), announced by the webhook `statement.issued`, and read newest
// first per account.
import { randomUUID } from "node:crypto";
import type { Database, OrmSql } from "../../db/database";
import type { ConditionExplanation } from "../../engine/evaluation";
import type { LinkBy } from "../../engine/fact-catalog";
import type { Prisma, StatementOfReasons } from "../../generated/prisma/client";
import { decodeCursor, encodeCursor } from "../../shared/pagination";
import { notFound } from "../../shared/errors";
import { z } from "zod";
import type { AccountStatus } from "../accounts/account-model";
import type { EnforcementAction } from "../cases/case-model";
import type { WebhookOutbox } from "../webhooks/webhook-outbox";
import { type NoticeTemplates, builtInNotice, renderTemplate } from "./notice-templates";
import type { StatementKind } from "./statement-model";
import type { Statement, StatementFact, StatementPage } from "./statement-views";

const dayMs = 86_400_000;

/** 2410 -> "2,410"; 0.8333 -> "0.83". */
export function formatValue(value: unknown): string {
  if (typeof value === "number") return Number.isInteger(value) ? value.toLocaleString("en-US") : (Math.round(value * 100) / 100).toLocaleString("en-US");
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

/** "24h" -> "24 h", "7d" -> "7 days", "15m" -> "15 min". */
export function formatWindow(window: string): string {
  const m = /^(\d+)([mhd])$/.exec(window);
  if (!m) return window;
  const n = Number(m[1]);
  return m[2] === "m" ? `${n} min` : m[2] === "h" ? `${n} h` : `${n} ${n === 1 ? "day" : "days"}`;
}

/** A moment as a holder reads it: 2026-12-07 05:00 UTC. */
export function formatMoment(at: Date): string {
  return `${at.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/**
 * The facts that met the rule, in plain words: every condition that was evaluated and held,
 * except those under a `not` (they held by being false). Pure: what a statement says of a hit.
 */
export function statementFacts(conditions: readonly ConditionExplanation[], window: string, templates: NoticeTemplates): StatementFact[] {
  const doc = templates.doc;
  const phrases = { ...builtInNotice.facts, ...doc.facts };
  const signals = { ...builtInNotice.signals, ...doc.signals };
  const out: StatementFact[] = [];
  for (const c of conditions) {
    if (c.result !== true || /(^|\.)not(\.|$)/.test(c.path)) continue;
    const params = c.params ?? {};
    const isWindowed = c.fact !== "event" && c.fact !== "account";
    const factWindow = isWindowed ? (typeof params.window === "string" ? params.window : window) : null;
    const signalName = typeof params.signal === "string" ? params.signal : /^\$\.signals\.([A-Za-z0-9_]+)$/.exec(c.jsonPath ?? "")?.[1];
    const signal = signalName ? (signals[signalName] ?? `with the signal ${signalName}`) : "";
    const phrase = phrases[c.fact] ?? "{{value}} ({{window}})";
    const text =
      c.fact === "event" && signalName && signals[signalName]
        ? `a request ${signals[signalName]}`
        : renderTemplate(phrase, {
            value: formatValue(c.factValue),
            percent: typeof c.factValue === "number" ? `${Math.round(c.factValue * 100)}%` : formatValue(c.factValue),
            window: factWindow ? formatWindow(factWindow) : "",
            signal,
            path: (c.jsonPath ?? "").replace(/^\$\./, ""),
          });
    out.push({ fact: c.fact, path: c.jsonPath ?? null, value: c.factValue, operator: c.operator, threshold: c.value, window: factWindow, text: text.trim() });
  }
  return out;
}

const actionText: Record<EnforcementAction, string> = { restrict: "restricted", suspend: "suspended" };
const statusText: Record<AccountStatus, string> = { active: "active", restricted: "restricted", suspended: "suspended" };

/** What a statement is issued for; the case and enforcement as the transaction reads them. */
export type StatementInput = {
  kind: StatementKind;
  accountId: string;
  enforcement: { id: string; action: EnforcementAction; createdAt: Date };
  case: { id: string; accountId: string; ruleId: string; ruleVersion: number; clauseRef: string; clauseText: string };
  /** The account's status once the change took effect. */
  accountStatus: AccountStatus;
  /** Since when the change holds. */
  effectiveAt: Date;
  /** The link kind an account acted on with the case's linked accounts was found by; null for the case's own account. */
  linkedBy: LinkBy | null;
  /** Why a measure was lifted (liftings only). */
  liftedBecause?: "case_resolved" | "appeal_reversed";
};

export type StatementIssuer = {
  /** Writes the statement in `tx` and queues its webhook; the statement as stored. */
  issue(tx: OrmSql, input: StatementInput, now: Date): Promise<Statement>;
};

export function createStatementIssuer(notice: NoticeTemplates, opts: { appealFilingDays: number }, outbox?: WebhookOutbox): StatementIssuer {
  return {
    async issue(tx, input, now) {
      const id = `sor_${randomUUID().replace(/-/g, "")}`;
      const own = input.accountId === input.case.accountId;
      // The newest hit's conditions, for a measure placed on the case's own account: a linked account
      // is told the kind of link only, never another customer's facts.
      const evidence =
        input.kind === "lifting" || !own
          ? null
          : await tx.prisma.caseEvidence.findFirst({ where: { caseId: input.case.id }, orderBy: { id: "desc" }, select: { ruleVersion: true, window: true, conditions: true } });
      const facts = evidence ? statementFacts(evidence.conditions as ConditionExplanation[], evidence.window, notice) : [];
      const ruleVersion = evidence?.ruleVersion ?? input.case.ruleVersion;
      const appealUntil = input.kind === "enforcement" ? new Date(now.getTime() + opts.appealFilingDays * dayMs) : null;
      const linkedBy = own ? null : input.linkedBy;
      const text = renderTemplate(input.kind === "enforcement" ? notice.doc.enforcement : input.kind === "lifting" ? notice.doc.lifting : notice.doc.appealUpheld, {
        statementId: id,
        accountId: input.accountId,
        action: input.enforcement.action,
        actionText: actionText[input.enforcement.action],
        since: formatMoment(input.effectiveAt),
        clauseRef: input.case.clauseRef,
        clauseText: input.case.clauseText,
        ruleId: input.case.ruleId,
        ruleVersion,
        statusText: statusText[input.accountStatus],
        facts,
        linked: !own,
        linkedBy: linkedBy ? ({ ...builtInNotice.linkKinds, ...notice.doc.linkKinds }[linkedBy] ?? linkedBy) : "link",
        appealUntil: appealUntil ? formatMoment(appealUntil) : "",
        caseResolved: input.liftedBecause === "case_resolved",
        appealReversed: input.liftedBecause === "appeal_reversed",
      });
      const statement: Statement = {
        id,
        accountId: input.accountId,
        kind: input.kind,
        issuedAt: now.toISOString(),
        enforcementId: input.enforcement.id,
        caseId: input.case.id,
        action: input.enforcement.action,
        accountStatus: input.accountStatus,
        effectiveAt: input.effectiveAt.toISOString(),
        clause: { ref: input.case.clauseRef, text: input.case.clauseText },
        rule: { id: input.case.ruleId, version: ruleVersion },
        grounds: own ? "own_activity" : "linked_account",
        linkedBy,
        facts,
        automated: { detection: true, decision: false },
        appealUntil: appealUntil?.toISOString() ?? null,
        text,
        template: notice.version,
      };
      await tx.prisma.statementOfReasons.create({
        data: {
          id,
          accountId: input.accountId,
          kind: input.kind,
          enforcementId: input.enforcement.id,
          caseId: input.case.id,
          ruleId: input.case.ruleId,
          ruleVersion,
          action: input.enforcement.action,
          accountStatus: input.accountStatus,
          effectiveAt: input.effectiveAt,
          body: bodyOf(statement) as Prisma.InputJsonValue,
          text,
          template: notice.version,
          issuedAt: now,
        },
      });
      await outbox?.notify(tx, "statement.issued", { statementId: id, accountId: input.accountId, kind: input.kind, caseId: input.case.id, enforcementId: input.enforcement.id }, now);
      return statement;
    },
  };
}

/** The part of a statement kept as JSON (the rest has columns). */
type StatementBody = Pick<Statement, "clause" | "grounds" | "linkedBy" | "facts" | "automated" | "appealUntil">;
const bodyOf = (s: Statement): StatementBody => ({ clause: s.clause, grounds: s.grounds, linkedBy: s.linkedBy, facts: s.facts, automated: s.automated, appealUntil: s.appealUntil });

function statementOf(row: StatementOfReasons): Statement {
  const body = row.body as StatementBody;
  return {
    id: row.id,
    accountId: row.accountId,
    kind: row.kind as StatementKind,
    issuedAt: row.issuedAt.toISOString(),
    enforcementId: row.enforcementId,
    caseId: row.caseId,
    action: row.action as EnforcementAction,
    accountStatus: row.accountStatus as AccountStatus,
    effectiveAt: row.effectiveAt.toISOString(),
    clause: body.clause,
    rule: { id: row.ruleId, version: row.ruleVersion },
    grounds: body.grounds,
    linkedBy: body.linkedBy,
    facts: body.facts,
    automated: body.automated,
    appealUntil: body.appealUntil,
    text: row.text,
    template: row.template,
  };
}

const cursorShape = z.tuple([z.string(), z.string()]);

export function createStatementQueries(db: Database) {
  const { prisma } = db;
  return {
    /** An account's statements, newest first. */
    async listForAccount(accountId: string, q: { limit: number; cursor?: string }): Promise<StatementPage> {
      const after = q.cursor ? decodeCursor(q.cursor, cursorShape) : undefined;
      const rows = await prisma.statementOfReasons.findMany({
        where: {
          accountId,
          ...(after ? { OR: [{ issuedAt: { lt: new Date(after[0]) } }, { issuedAt: new Date(after[0]), id: { lt: after[1] } }] } : {}),
        },
        orderBy: [{ issuedAt: "desc" }, { id: "desc" }],
        take: q.limit + 1,
      });
      const items = rows.slice(0, q.limit).map(statementOf);
      const last = items.at(-1);
      return { items, nextCursor: rows.length > q.limit && last ? encodeCursor([last.issuedAt, last.id]) : null };
    },
    async get(id: string): Promise<Statement> {
      const row = await prisma.statementOfReasons.findUnique({ where: { id } });
      if (!row) throw notFound("statement", id);
      return statementOf(row);
    },
  };
}
export type StatementQueries = ReturnType<typeof createStatementQueries>;

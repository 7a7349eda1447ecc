// Account reads: the enforcement status the gateway asks for on its fast path, and the account
// view an analyst opens (usage, open cases, linked accounts).
import { notFound } from "../../shared/errors";
import { activeStatuses } from "../cases/case-model";
import { toCaseSummary } from "../cases/case-queries";
import { type HubLimits, defaultHubLimits } from "../events/link-policy";
import { linkHubs, linkedAccountIds } from "../facts/fact-queries";
import { type ProfileChange, readProfile, upsertProfiles } from "./account-profile";
import { seriesSignalThreshold, usageSeries as readUsageSeries, usageTotals, valueStats } from "../facts/usage-rollups";
import type { Database } from "../../db/database";
import type { EnforcementSnapshot } from "./enforcement-snapshot";
import type { AccountView, EnforcementStatus, UsageSeries } from "./account-views";
import type { SuppressionService } from "../suppressions/suppression-service";

const dayMs = 86_400_000;

/** `suppressions`: what the account view shows of allow entries, snoozes and suppressed hits. */
export function createAccountService(db: Database, enforcement: EnforcementSnapshot, hubLimits: HubLimits = defaultHubLimits, suppressions?: Pick<SuppressionService, "ofAccount">) {
  const { prisma } = db;
  /** From memory (see enforcement-snapshot.ts): the gateway's answer never waits on the database. */
  function enforcementStatus(accountId: string): EnforcementStatus {
    return enforcement.status(accountId);
  }

  /**
   * The account as an analyst sees it at `now`: usage over the last 24 hours, its active cases, and
   * the accounts linked to it by payment fingerprint, network prefix or org over `linkWindowMs`.
   */
  async function accountView(accountId: string, now: Date, linkWindowMs = 30 * dayMs): Promise<AccountView> {
    const [account, profile] = await Promise.all([prisma.account.findUnique({ where: { id: accountId } }), readProfile(db, accountId)]);
    if (!account) throw notFound("account", accountId);
    const since = new Date(now.getTime() - dayMs);
    const linkFrom = new Date(now.getTime() - linkWindowMs);
    const [totals, values, openCases, byPayment, byIp, byOrg, bySharedIp, hubs, enforcements, suppression] = await Promise.all([
      usageTotals(db, [accountId], since, now),
      valueStats(db, [accountId], since, now),
      prisma.violationCase.findMany({
        where: { accountId, status: { in: [...activeStatuses] } },
        orderBy: [{ activityAt: "desc" }, { id: "desc" }],
      }),
      linkedAccountIds(db, accountId, "paymentFingerprint", linkFrom, now, hubLimits),
      linkedAccountIds(db, accountId, "ipPrefix", linkFrom, now, hubLimits),
      linkedAccountIds(db, accountId, "orgId", linkFrom, now, hubLimits),
      linkedAccountIds(db, accountId, "sharedIpPrefix", linkFrom, now, hubLimits),
      linkHubs(db, accountId, "any", linkFrom, now, hubLimits),
      prisma.enforcement.findMany({ where: { accountId }, orderBy: { createdAt: "desc" }, take: 100 }),
      suppressions?.ofAccount(accountId, now) ?? { allowEntries: [], snoozes: [], suppressedHits: [] },
    ]);
    const { topTemplateRequests, ...distinct } = values;
    const usage24h = { ...totals, ...distinct, topTemplateShare: totals.requestCount ? topTemplateRequests / totals.requestCount : 0 };
    return {
      accountId: account.id,
      orgId: account.orgId,
      status: account.status,
      statusSince: account.statusSince?.toISOString() ?? null,
      firstSeenAt: account.firstSeenAt.toISOString(),
      lastSeenAt: account.lastSeenAt.toISOString(),
      /** What the provider said of the account (PUT /v1/accounts/:id), or null. */
      profile,
      usage24h,
      openCases: openCases.map(toCaseSummary),
      // sharedIpPrefix: weak links (shared infrastructure), shown but not counted by "any".
      // hubs: strong values this account used that more accounts than their kind's hub limit used in the window; they link no one.
      linkedAccounts: { window: `${Math.round(linkWindowMs / dayMs)}d`, paymentFingerprint: byPayment, ipPrefix: byIp, orgId: byOrg, sharedIpPrefix: bySharedIp, hubs },
      /** Every enforcement placed on the account (newest first, at most 100), lifted or not. */
      enforcements: enforcements.map((e) => ({
        id: e.id,
        caseId: e.caseId,
        action: e.action,
        actor: e.actor,
        note: e.note,
        at: e.createdAt.toISOString(),
        liftedAt: e.liftedAt?.toISOString() ?? null,
        liftedBy: e.liftedBy,
      })),
      suppression,
    };
  }

  /** The account's usage per hour over [from, to): what the console charts beside a case's evidence. */
  async function usageSeries(accountId: string, from: Date, to: Date): Promise<UsageSeries> {
    const account = await prisma.account.findUnique({ where: { id: accountId }, select: { id: true } });
    if (!account) throw notFound("account", accountId);
    return {
      accountId,
      from: from.toISOString(),
      to: to.toISOString(),
      bucket: "1h",
      signalThreshold: seriesSignalThreshold,
      items: await readUsageSeries(db, accountId, from, to),
    };
  }

  /** Sets provider profiles (account-profile.ts), one statement for all; each account at most once. */
  function setProfiles(changes: ProfileChange[]) {
    return upsertProfiles(db, changes);
  }

  return { enforcementStatus, accountView, usageSeries, setProfiles };
}

export type AccountService = ReturnType<typeof createAccountService>;

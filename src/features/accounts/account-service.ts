// Account reads: the enforcement status the gateway asks for on its fast path.
import type { PrismaClient } from "../../generated/prisma/client";

export type EnforcementStatus = {
  accountId: string;
  status: "active" | "restricted" | "suspended";
  since: string | null;
  caseIds: string[];
};

export function createAccountService(prisma: PrismaClient) {
  /** An unknown account is active: the gateway must never block on a lookup miss. */
  async function enforcementStatus(accountId: string): Promise<EnforcementStatus> {
    const account = await prisma.account.findUnique({ where: { id: accountId }, select: { status: true, statusSince: true } });
    if (!account || account.status === "active") {
      return { accountId, status: "active", since: account?.statusSince?.toISOString() ?? null, caseIds: [] };
    }
    const holding = await prisma.enforcement.findMany({
      where: { accountId, liftedAt: null },
      select: { caseId: true },
      orderBy: { createdAt: "asc" },
    });
    return {
      accountId,
      status: account.status,
      since: account.statusSince?.toISOString() ?? null,
      caseIds: [...new Set(holding.map((h) => h.caseId))],
    };
  }

  return { enforcementStatus };
}

export type AccountService = ReturnType<typeof createAccountService>;
